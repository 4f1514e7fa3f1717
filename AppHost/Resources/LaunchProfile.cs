using System.Text.Json;

namespace Kiln.AppHost.Resources;

/// <summary>
/// The launch profile a project runs with, chosen and applied as Aspire does (ASPIRE-CONTRACT.md §1):
/// the AppHost's own <c>DOTNET_LAUNCH_PROFILE</c> when the project has a profile of that name, else
/// the project's first profile whose <c>commandName</c> is <c>Project</c> or <c>Executable</c>. Its
/// environment variables are the defaults the app model may override; without a profile the project
/// runs as Production.
/// </summary>
internal sealed record LaunchProfile(string Name, IReadOnlyDictionary<string, string> EnvironmentVariables)
{
    public static LaunchProfile? Select(string launchSettingsPath, string? preferred)
    {
        if (!File.Exists(launchSettingsPath))
        {
            return null;
        }

        using var document = JsonDocument.Parse(File.ReadAllText(launchSettingsPath),
            new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        if (!document.RootElement.TryGetProperty("profiles", out var profiles) || profiles.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var candidates = profiles.EnumerateObject().ToList();
        var chosen = candidates.FirstOrDefault(p => preferred is not null && p.Name == preferred);
        if (chosen.Value.ValueKind == JsonValueKind.Undefined)
        {
            chosen = candidates.FirstOrDefault(p =>
                p.Value.TryGetProperty("commandName", out var command) && command.GetString() is "Project" or "Executable");
        }

        if (chosen.Value.ValueKind == JsonValueKind.Undefined)
        {
            return null;
        }

        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        if (chosen.Value.TryGetProperty("environmentVariables", out var environment) && environment.ValueKind == JsonValueKind.Object)
        {
            foreach (var variable in environment.EnumerateObject())
            {
                variables[variable.Name] = variable.Value.ToString();
            }
        }

        return new LaunchProfile(chosen.Name, variables);
    }
}
