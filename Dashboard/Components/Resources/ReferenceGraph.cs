using Resource = Kiln.Dashboard.ResourceService.V1.Resource;

namespace Kiln.Dashboard.Components.Resources;

/// <summary>
/// The references between resources laid out for a small SVG: one node per display name (a project's replicas are one
/// node, as relationships name the project), one edge per pair with its kinds (Reference, WaitFor, Parent), and columns
/// by depth — a resource stands right of everything it depends on.
/// </summary>
public sealed record ReferenceGraph(IReadOnlyList<ReferenceGraph.Node> Nodes, IReadOnlyList<ReferenceGraph.Edge> Edges, double Width, double Height)
{
    public const double NodeWidth = 150;
    public const double NodeHeight = 34;
    private const double ColumnGap = 70;
    private const double RowGap = 16;
    private const double Margin = 10;

    public sealed record Node(string Name, string StateClass, double X, double Y);

    public sealed record Edge(string From, string To, string Kinds, double X1, double Y1, double X2, double Y2);

    public static ReferenceGraph Build(IReadOnlyList<Resource> resources)
    {
        var byName = resources.GroupBy(r => r.DisplayName is { Length: > 0 } d ? d : r.Name, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var dependsOn = byName.ToDictionary(p => p.Key,
            p => p.Value.SelectMany(r => r.Relationships).Where(r => byName.ContainsKey(r.ResourceName) && r.ResourceName != p.Key)
                .GroupBy(r => r.ResourceName, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => string.Join(", ", g.Select(r => r.Type).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))),
            StringComparer.Ordinal);

        var depth = new Dictionary<string, int>(StringComparer.Ordinal);
        int Depth(string name, HashSet<string> path)
        {
            if (depth.TryGetValue(name, out var known))
            {
                return known;
            }

            if (!path.Add(name))
            {
                return 0; // a cycle: drawn, not followed
            }

            var d = dependsOn[name].Keys.Select(dep => Depth(dep, path) + 1).DefaultIfEmpty(0).Max();
            path.Remove(name);
            return depth[name] = d;
        }

        foreach (var name in byName.Keys)
        {
            Depth(name, []);
        }

        var nodes = new List<Node>();
        foreach (var column in depth.GroupBy(p => p.Value).OrderBy(g => g.Key))
        {
            var row = 0;
            foreach (var name in column.Select(p => p.Key).Order(StringComparer.Ordinal))
            {
                var worst = byName[name].Select(ResourceText.StateClass).OrderBy(c => c switch { "error" => 0, "warn" => 1, "info" => 2, "ok" => 3, _ => 4 }).First();
                nodes.Add(new Node(name, worst, Margin + (column.Key * (NodeWidth + ColumnGap)), Margin + (row++ * (NodeHeight + RowGap))));
            }
        }

        var at = nodes.ToDictionary(n => n.Name, StringComparer.Ordinal);
        var edges = dependsOn.SelectMany(p => p.Value.Select(dep =>
        {
            var (from, to) = (at[p.Key], at[dep.Key]);
            return new Edge(p.Key, dep.Key, dep.Value, from.X, from.Y + (NodeHeight / 2), to.X + NodeWidth, to.Y + (NodeHeight / 2));
        })).ToList();
        var width = nodes.Count == 0 ? 0 : nodes.Max(n => n.X) + NodeWidth + Margin;
        var height = nodes.Count == 0 ? 0 : nodes.Max(n => n.Y) + NodeHeight + Margin;
        return new ReferenceGraph(nodes, edges, width, height);
    }
}
