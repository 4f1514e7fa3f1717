using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Kiln.AppHost.Launching;
using Kiln.AppHost.Model;
using Kiln.AppHost.Provisioning;
using Kiln.AppHost.Resources;

namespace Kiln.AppHost.Containers;

/// <summary>
/// Kiln's own images, built on first use from Debian packages through the machine's apt mirror (no registry needed):
/// <c>localhost/kiln-base:bookworm</c> (debootstrap --variant=minbase, imported), then <c>kiln-postgres:15</c>,
/// <c>kiln-redis:7</c> and <c>kiln-devkafka:&lt;librdkafka version&gt;</c> from the Containerfiles in
/// <c>Containers/Images/</c>. Each image carries the label <c>io.kiln.definition</c>: a hash of what it was built from
/// (its Containerfile and files, the base's hash, for the broker its program); an image whose label matches is used
/// as it is, any other is rebuilt. Builds are taken one at a time per machine (a lock file in /var/tmp), so AppHosts
/// starting together build each image once. The builders' output is shown under <c>images</c>; what is built and how
/// long it took, under <c>apphost</c>.
/// </summary>
internal sealed partial class ContainerImages(ContainerEngine engine, RunContext context)
{
    public const string BaseImage = "localhost/kiln-base:bookworm";
    public const string PostgresImage = "localhost/kiln-postgres:15";
    public const string RedisImage = "localhost/kiln-redis:7";
    private const string Suite = "bookworm";
    private const string LockPath = "/var/tmp/kiln-images.lock";
    private static readonly SemaphoreSlim InProcess = new(1, 1);
    private static readonly TimeSpan BuildDeadline = TimeSpan.FromMinutes(20);

    /// <summary>The broker's image, tagged with the librdkafka version it runs.</summary>
    public static string DevKafkaImage => $"localhost/kiln-devkafka:{LibRdKafkaVersion() ?? "dev"}";

    private static string DefinitionsFolder => Path.Combine(AppContext.BaseDirectory, "Containers", "Images");

    /// <summary>Makes sure <paramref name="image"/> exists and is current; builds it (and the base) if not.</summary>
    public async Task EnsureAsync(string image, CancellationToken cancellationToken)
    {
        await InProcess.WaitAsync(cancellationToken);
        try
        {
            using var machineLock = await LockMachineAsync(cancellationToken);
            var baseHash = await EnsureBaseAsync(cancellationToken);
            var folder = image == PostgresImage ? "postgres" : image == RedisImage ? "redis" : "devkafka";
            await EnsureFromContainerfileAsync(image, folder, baseHash, cancellationToken);
        }
        finally
        {
            InProcess.Release();
        }
    }

    /// <summary>Whether <paramref name="image"/> is one Kiln builds (else a user's, which the engine pulls itself).</summary>
    public static bool IsKilnImage(string image) => image is PostgresImage or RedisImage || image == DevKafkaImage;

    /// <summary>What is built and how long it took: the AppHost's own messages (kept, so tests can show them).</summary>
    private void Say(string message) => context.Say(message);

    private async Task<string> EnsureBaseAsync(CancellationToken cancellationToken)
    {
        var mirror = AptMirror();
        var hash = Hash($"debootstrap --variant=minbase {Suite} {mirror}\nv1");
        if (await LabelAsync(BaseImage, cancellationToken) == hash)
        {
            return hash;
        }

        var previous = await ImageIdAsync(BaseImage, cancellationToken);
        var staging = Path.Combine("/var/tmp", "kiln-image-build-" + Guid.NewGuid().ToString("N")[..8]);
        var rootfs = Path.Combine(staging, "rootfs");
        Directory.CreateDirectory(staging);
        var stopwatch = Stopwatch.StartNew();
        Say($"building {BaseImage} (first use on this machine): debootstrap --variant=minbase {Suite} from {mirror}, about a minute");
        try
        {
            if (Prerequisite.FindOnPath("debootstrap") is null)
            {
                throw new ProvisioningException("Building the base image needs debootstrap: sudo apt-get install -y debootstrap");
            }

            await RunShownAsync("debootstrap", ["--variant=minbase", Suite, rootfs, mirror], cancellationToken);
            // Apt inside later builds reaches the same mirror.
            await File.WriteAllTextAsync(Path.Combine(rootfs, "etc", "apt", "sources.list"),
                $"deb {mirror} {Suite} main\ndeb {mirror} {Suite}-updates main\n", cancellationToken);
            Say($"importing {BaseImage}");
            await RunShownAsync("sh", ["-c", "tar -C \"$1\" -c . | \"$2\" import --change \"$3\" - \"$4\"", "sh", rootfs, engine.Program,
                $"LABEL {ContainerEngine.DefinitionLabel}={hash}", BaseImage], cancellationToken, engine.Environment);
        }
        finally
        {
            await RemoveStagingAsync(staging);
        }

        await RemoveReplacedAsync(BaseImage, previous, cancellationToken);
        Say($"built {BaseImage} in {stopwatch.Elapsed.TotalSeconds:0} s");
        return hash;
    }

    private async Task EnsureFromContainerfileAsync(string image, string folder, string baseHash, CancellationToken cancellationToken)
    {
        var definition = Path.Combine(DefinitionsFolder, folder);
        var inputs = new StringBuilder(baseHash).Append('\n');
        foreach (var file in Directory.EnumerateFiles(definition).Order(StringComparer.Ordinal))
        {
            inputs.Append(Path.GetFileName(file)).Append(' ').Append(HashFile(file)).Append('\n');
        }

        string? program = null;
        if (folder == "devkafka")
        {
            // The broker's source decides whether to publish it again: its project, the loader it compiles in, and the
            // repository's build settings and package versions.
            program = ProgramPaths.Find("Kiln.DevKafka");
            foreach (var (name, source) in DevKafkaSources())
            {
                inputs.Append(name).Append(' ').Append(HashFile(source)).Append('\n');
            }
        }

        var hash = Hash(inputs.ToString());
        if (await LabelAsync(image, cancellationToken) == hash)
        {
            return;
        }

        var stopwatch = Stopwatch.StartNew();
        Say($"building {image} (first use, or its definition changed)");
        var staging = Path.Combine("/var/tmp", "kiln-image-build-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            Directory.CreateDirectory(staging);
            foreach (var file in Directory.EnumerateFiles(definition))
            {
                File.Copy(file, Path.Combine(staging, Path.GetFileName(file)));
            }

            if (program is not null)
            {
                await PublishDevKafkaAsync(program, Path.Combine(staging, "app"), Path.Combine(staging, "artifacts"), cancellationToken);
            }

            var previous = await ImageIdAsync(image, cancellationToken);
            // podman keeps an image per instruction by default; the definition's hash is the cache here, so only the result is kept.
            string[] layers = engine.IsPodman ? ["--layers=false"] : [];
            await RunShownAsync(engine.Program, ["build", .. layers, "-t", image, "--label", $"{ContainerEngine.DefinitionLabel}={hash}",
                "-f", Path.Combine(staging, "Containerfile"), staging], cancellationToken, engine.Environment);
            await RemoveReplacedAsync(image, previous, cancellationToken);
        }
        finally
        {
            await RemoveStagingAsync(staging);
        }

        Say($"built {image} in {stopwatch.Elapsed.TotalSeconds:0} s");
    }

    /// <summary>The broker's source files: (path in the repository, full path), in order; the same in any checkout.</summary>
    private static IEnumerable<(string Name, string Path)> DevKafkaSources()
    {
        var project = ProgramPaths.ProjectDirectory("Kiln.DevKafka")
            ?? throw new ProvisioningException("Building the broker's image needs Kiln's source (tools/DevKafka).");
        var root = Path.GetFullPath(Path.Combine(project, "..", ".."));
        var files = Directory.EnumerateFiles(project, "*", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/bin/", StringComparison.Ordinal) && !f.Contains("/obj/", StringComparison.Ordinal))
            .Append(Path.Combine(root, "ServiceDefaults", "Kafka", "KafkaNativeLibrary.cs"))
            .Append(Path.Combine(root, "Directory.Build.props"))
            .Append(Path.Combine(root, "Directory.Packages.props"))
            .Where(File.Exists);
        return files.Select(f => (Name: System.IO.Path.GetRelativePath(root, f), Path: f)).OrderBy(f => f.Name, StringComparer.Ordinal);
    }

    /// <summary>DevKafka published self-contained for linux-x64 (the runtime pack is restored from NuGet), in a folder of its own.</summary>
    private async Task PublishDevKafkaAsync(string program, string output, string artifacts, CancellationToken cancellationToken)
    {
        var project = ProgramPaths.ProjectDirectory("Kiln.DevKafka") is { } directory ? Path.Combine(directory, "DevKafka.csproj") : null;
        if (project is null || !File.Exists(project))
        {
            throw new ProvisioningException($"Building the broker's image needs Kiln's source (tools/DevKafka), which is not beside {program}.");
        }

        Say($"publishing {project} self-contained for linux-x64");
        // Its own artifacts folder: a RID-specific restore must not rewrite the obj/ folder the normal build uses.
        await RunShownAsync(DotnetHost.Path, ["publish", project, "-c", "Release", "-r", "linux-x64", "--self-contained", "true",
            "--artifacts-path", artifacts, "-o", output, "-p:UseAppHost=true", "--nologo", "-v", "quiet"], cancellationToken);
    }

    private async Task<string?> ImageIdAsync(string image, CancellationToken cancellationToken)
    {
        var (exitCode, output) = await engine.RunAsync(["image", "inspect", "--format", "{{.Id}}", image], TimeSpan.FromSeconds(30), cancellationToken);
        return exitCode == 0 ? output.Trim() : null;
    }

    /// <summary>The image a rebuild replaced (now untagged) is removed, unless a container still uses it.</summary>
    private async Task RemoveReplacedAsync(string image, string? previous, CancellationToken cancellationToken)
    {
        if (previous is not null && previous != await ImageIdAsync(image, cancellationToken))
        {
            await engine.RunAsync(["rmi", previous], TimeSpan.FromSeconds(60), cancellationToken);
        }
    }

    /// <summary>The image's io.kiln.definition label, or null when it does not exist.</summary>
    private async Task<string?> LabelAsync(string image, CancellationToken cancellationToken)
    {
        var (exitCode, output) = await engine.RunAsync(
            ["image", "inspect", "--format", $"{{{{ index .Config.Labels \"{ContainerEngine.DefinitionLabel}\" }}}}", image],
            TimeSpan.FromSeconds(30), cancellationToken);
        return exitCode == 0 ? output.Trim() : null;
    }

    private async Task RunShownAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var last = new Queue<string>();
        var exitCode = await ToolProcess.RunAsync(program, arguments, (line, isError) =>
        {
            if (line.Length == 0)
            {
                return;
            }

            context.LogFor("images").Write(line, isError);
            lock (last)
            {
                last.Enqueue(line);
                if (last.Count > 5)
                {
                    last.Dequeue();
                }
            }
        }, cancellationToken, BuildDeadline, [.. environment ?? new Dictionary<string, string>(), new("DEBIAN_FRONTEND", "noninteractive")]);
        if (exitCode is null)
        {
            throw new ProvisioningException($"'{program} {arguments[0]}' did not finish within {BuildDeadline.TotalMinutes:0} minutes.");
        }

        if (exitCode != 0)
        {
            string tail;
            lock (last)
            {
                tail = string.Join(" / ", last);
            }

            throw new ProvisioningException($"Building an image failed: '{Path.GetFileName(program)} {string.Join(' ', arguments.Take(3))} …' exited with code {exitCode}: {tail}");
        }
    }

    /// <summary>Removes a build folder; debootstrap may have left /proc or /sys mounted in it when interrupted.</summary>
    private static async Task RemoveStagingAsync(string staging)
    {
        if (!Directory.Exists(staging))
        {
            return;
        }

        foreach (var mount in File.ReadLines("/proc/self/mounts").Select(l => l.Split(' ')[1]).Where(m => m.StartsWith(staging + "/", StringComparison.Ordinal))
                     .OrderByDescending(m => m.Length))
        {
            using var umount = Process.Start("umount", ["-l", mount]);
            await umount.WaitForExitAsync();
        }

        try
        {
            Directory.Delete(staging, recursive: true);
        }
        catch (IOException)
        {
            // A leftover build folder in /var/tmp is harmless; the next build uses a new one.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>One image build at a time on this machine: another AppHost building the same image is waited for.</summary>
    private async Task<IDisposable> LockMachineAsync(CancellationToken cancellationToken)
    {
        var said = false;
        while (true)
        {
            try
            {
                return new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                if (!said)
                {
                    Say("another AppHost is building Kiln's images; waiting for it");
                    said = true;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken);
            }
        }
    }

    /// <summary>The machine's Debian mirror for <c>bookworm</c>, from /etc/apt/sources.list and sources.list.d (one-line or deb822).</summary>
    internal static string AptMirror()
    {
        var files = new List<string>();
        if (File.Exists("/etc/apt/sources.list"))
        {
            files.Add("/etc/apt/sources.list");
        }

        if (Directory.Exists("/etc/apt/sources.list.d"))
        {
            files.AddRange(Directory.EnumerateFiles("/etc/apt/sources.list.d").Where(f => f.EndsWith(".list", StringComparison.Ordinal) || f.EndsWith(".sources", StringComparison.Ordinal)).Order());
        }

        foreach (var file in files)
        {
            var text = File.ReadAllText(file);
            if (file.EndsWith(".sources", StringComparison.Ordinal))
            {
                foreach (var stanza in text.Split("\n\n"))
                {
                    var uris = Regex.Match(stanza, @"^URIs:\s*(\S+)", RegexOptions.Multiline);
                    var suites = Regex.Match(stanza, @"^Suites:\s*(.+)$", RegexOptions.Multiline);
                    if (uris.Success && suites.Success && suites.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(Suite))
                    {
                        return uris.Groups[1].Value.TrimEnd('/');
                    }
                }
            }
            else
            {
                foreach (var line in text.Split('\n'))
                {
                    var match = OneLineSource().Match(line);
                    if (match.Success && match.Groups["suite"].Value == Suite)
                    {
                        return match.Groups["uri"].Value.TrimEnd('/');
                    }
                }
            }
        }

        return "http://deb.debian.org/debian";
    }

    [GeneratedRegex(@"^\s*deb\s+(\[[^\]]*\]\s+)?(?<uri>\S+)\s+(?<suite>\S+)")]
    private static partial Regex OneLineSource();

    /// <summary>librdkafka.redist's version in the broker's build (its deps.json), for the image's tag.</summary>
    private static string? LibRdKafkaVersion()
    {
        try
        {
            var deps = Path.ChangeExtension(ProgramPaths.Find("Kiln.DevKafka"), ".deps.json");
            var match = Regex.Match(File.ReadAllText(deps), "\"librdkafka\\.redist/([0-9][^\"]*)\"");
            return match.Success ? match.Groups[1].Value : null;
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
            return null;
        }
    }

    private static string Hash(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];

    private static string HashFile(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream))[..16];
    }
}
