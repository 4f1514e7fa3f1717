using Kiln.AppHost.Launching;

namespace Kiln.AppHost.Provisioning;

/// <summary>
/// Installs on first run what the local resources need and the machine lacks, the way Aspire pulls a
/// container image on first run: as root on Debian through apt-get, with its progress shown. Where it
/// cannot, it stops with one message naming each missing piece and the command that installs it.
/// </summary>
internal sealed class MachineProvisioner(ConsoleSink console, bool? canInstall = null)
{
    public async Task EnsureAsync(IReadOnlyCollection<Prerequisite> prerequisites, CancellationToken cancellationToken)
    {
        var missing = prerequisites.Where(p => !p.IsPresent()).ToList();
        if (missing.Count == 0)
        {
            return;
        }

        var packages = missing.SelectMany(p => p.DebianPackages).Distinct().ToList();
        if (!(canInstall ?? CanInstallWithApt()))
        {
            throw new ProvisioningException(
                "This machine lacks what the local resources need:" + Environment.NewLine
                + string.Join(Environment.NewLine, missing.Select(p => $"  - {p.Description}")) + Environment.NewLine
                + $"Install it with: sudo apt-get install -y {string.Join(' ', packages)}" + Environment.NewLine
                + "or point the resource at an existing server with ConnectionStrings__<name> (see README.md).");
        }

        console.Write("provision", $"first run: installing {string.Join(", ", missing.Select(p => p.Description))} ({string.Join(' ', packages)})");
        await RunAsync("apt-get", ["update"], cancellationToken);
        await RunAsync("apt-get", ["install", "-y", "--no-install-recommends", .. packages], cancellationToken);

        var stillMissing = missing.Where(p => !p.IsPresent()).ToList();
        if (stillMissing.Count > 0)
        {
            throw new ProvisioningException(
                $"apt-get finished but these are still missing: {string.Join(", ", stillMissing.Select(p => p.Description))}. "
                + $"Try: {string.Join("; ", stillMissing.Select(p => p.InstallCommand))}");
        }

        console.Write("provision", "done");
    }

    private static bool CanInstallWithApt() =>
        Signals.GetEffectiveUserId() == 0 && Prerequisite.FindOnPath("apt-get") is not null;

    private Task RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken) =>
        RunAsync(console, "provision", program, arguments, cancellationToken);

    /// <summary>
    /// Runs an installer with its output shown under <paramref name="source"/>. Stopping the AppHost
    /// meanwhile ends it (and its children) rather than leaving it behind.
    /// </summary>
    internal static async Task RunAsync(ConsoleSink console, string source, string program, IReadOnlyList<string> arguments,
        CancellationToken cancellationToken)
    {
        var exitCode = await ToolProcess.RunAsync(program, arguments, (line, isError) =>
        {
            if (line.Length > 0)
            {
                console.Write(source, line, isError);
            }
        }, cancellationToken, environment: [new("DEBIAN_FRONTEND", "noninteractive")]);
        if (exitCode != 0)
        {
            throw new ProvisioningException($"'{program} {string.Join(' ', arguments)}' failed with exit code {exitCode}; its output is above.");
        }
    }
}

/// <summary>The machine cannot run a resource; the message says what is missing and how to fix it.</summary>
internal sealed class ProvisioningException(string message) : Exception(message);
