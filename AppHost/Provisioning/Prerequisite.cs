namespace Kiln.AppHost.Provisioning;

/// <summary>
/// Something a local resource needs from the machine: how to tell it is there, the Debian packages
/// that provide it, and the command a person would run to install it.
/// </summary>
internal sealed record Prerequisite(string Description, Func<bool> IsPresent, IReadOnlyList<string> DebianPackages)
{
    public string InstallCommand => $"sudo apt-get install -y {string.Join(' ', DebianPackages)}";

    /// <summary>The first existing file among <paramref name="candidates"/>, or null.</summary>
    public static string? FindFile(params string[] candidates) => candidates.FirstOrDefault(File.Exists);

    /// <summary>A program on the PATH, or null.</summary>
    public static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, program))
            .FirstOrDefault(File.Exists);
}
