namespace Kiln.Dashboard.ResourceService;

/// <summary>One console line of a resource, as kept: its number in the AppHost run, text, and whether it came on stderr.</summary>
internal sealed record StoredConsoleLine(long Sequence, string ResourceName, long LineNumber, string Content, bool IsError);

/// <summary>How a console-logs query selects resources: by name (<c>api-0</c>) or display name (<c>api</c>, every replica), any case.</summary>
internal static class ConsoleLogsQuery
{
    public static bool Matches(string name, string? displayName, string wanted) =>
        string.Equals(name, wanted, StringComparison.OrdinalIgnoreCase) || string.Equals(displayName, wanted, StringComparison.OrdinalIgnoreCase);
}

/// <summary>
/// The console lines of one run's resources: the current run's as the recorder receives them, or a past run's as read
/// from its file. Bounded per resource (<c>MaxConsoleLogCount</c>), oldest out first. A line number already held (the
/// AppHost sends its kept lines again when a watch restarts) is not added twice.
/// </summary>
internal sealed class ConsoleLogStore(int maxPerResource)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Queue<StoredConsoleLine>> _resources = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _lastLine = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _displayNames = new(StringComparer.Ordinal);
    private long _sequence;

    public int MaxPerResource { get; } = maxPerResource;

    /// <summary>Keeps the lines not held yet (by line number); returns those.</summary>
    public IReadOnlyList<StoredConsoleLine> Add(string resourceName, string displayName, IEnumerable<(long LineNumber, string Content, bool IsError)> lines)
    {
        var added = new List<StoredConsoleLine>();
        lock (_gate)
        {
            _displayNames[resourceName] = displayName;
            if (!_resources.TryGetValue(resourceName, out var queue))
            {
                queue = new Queue<StoredConsoleLine>();
                _resources.Add(resourceName, queue);
            }

            var last = _lastLine.GetValueOrDefault(resourceName);
            foreach (var (lineNumber, content, isError) in lines)
            {
                if (lineNumber <= last)
                {
                    continue;
                }

                last = lineNumber;
                var line = new StoredConsoleLine(++_sequence, resourceName, lineNumber, content, isError);
                queue.Enqueue(line);
                added.Add(line);
            }

            _lastLine[resourceName] = last;
            while (queue.Count > MaxPerResource)
            {
                queue.Dequeue();
            }
        }

        return added;
    }

    /// <summary>The resources that wrote a line, by name, with their display names.</summary>
    public IReadOnlyList<(string Name, string DisplayName)> Resources
    {
        get
        {
            lock (_gate)
            {
                return [.. _resources.Keys.Order(StringComparer.Ordinal).Select(name => (name, _displayNames[name]))];
            }
        }
    }

    public string? DisplayNameOf(string resourceName)
    {
        lock (_gate)
        {
            return _displayNames.GetValueOrDefault(resourceName);
        }
    }

    /// <summary>Whether <paramref name="wanted"/> names (or display-names) a resource that wrote a line.</summary>
    public bool Knows(string wanted)
    {
        lock (_gate)
        {
            return _displayNames.Any(r => ConsoleLogsQuery.Matches(r.Key, r.Value, wanted));
        }
    }

    /// <summary>Every held line of the resources <paramref name="wanted"/> selects (all when empty), in the order they arrived.</summary>
    public IReadOnlyList<StoredConsoleLine> GetLines(IReadOnlyCollection<string>? wanted = null)
    {
        lock (_gate)
        {
            return [.. _resources
                .Where(r => wanted is not { Count: > 0 } || wanted.Any(w => ConsoleLogsQuery.Matches(r.Key, _displayNames[r.Key], w)))
                .SelectMany(r => r.Value)
                .OrderBy(l => l.Sequence)];
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _resources.Values.Sum(q => q.Count);
            }
        }
    }
}
