using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Kiln.ServiceDefaults.Kafka;

/// <summary>The librdkafka a process runs on: its version and the file it was loaded from.</summary>
public sealed record LibRdKafkaBuild(string Version, string Path)
{
    public override string ToString() => $"librdkafka {Version} ({Path})";
}

/// <summary>
/// Makes a process run on the librdkafka that librdkafka.redist ships, and on nothing else. The redist's
/// default linux-x64 build needs libsasl2.so.3, which Debian 12 lacks; when it fails to load, Confluent.Kafka
/// silently falls back to any librdkafka the system has. So every <c>librdkafka</c> import is resolved to the
/// build that needs only glibc, and the version it reports is checked against Confluent.Kafka's own.
/// </summary>
/// <remarks>
/// Also compiled into tools/DevKafka, which P/Invokes the same library for its mock cluster.
/// </remarks>
public static class KafkaNativeLibrary
{
    private static readonly Lock Gate = new();
    private static readonly HashSet<Assembly> ResolvedAssemblies = [];
    private static LibRdKafkaBuild? _loaded;
    private static nint _handle;

    /// <summary>The librdkafka version Confluent.Kafka was built for (they are released together).</summary>
    public static Version ExpectedVersion { get; } = typeof(Library).Assembly.GetName().Version!;

    /// <summary>
    /// Loads the redist's librdkafka once per process, points Confluent.Kafka at it, and checks its version.
    /// Call it before the first Kafka client is created; later calls return the same answer.
    /// </summary>
    /// <exception cref="InvalidOperationException">No usable build, a version mismatch, or librdkafka loaded too early; the message says how to fix it.</exception>
    public static LibRdKafkaBuild Load()
    {
        lock (Gate)
        {
            if (_loaded is not null)
            {
                return _loaded;
            }

            if (Library.IsLoaded)
            {
                throw new InvalidOperationException(
                    "librdkafka was loaded before Kiln chose which build to load, so it may be a system copy: " +
                    "call KafkaNativeLibrary.Load() (AddKafkaProducer/AddKafkaConsumer do) before creating any Kafka client.");
            }

            var path = RedistPath(AppContext.BaseDirectory, RuntimeInformation.ProcessArchitecture, File.Exists);
            try
            {
                _handle = NativeLibrary.Load(path);
            }
            catch (DllNotFoundException e)
            {
                throw new InvalidOperationException($"Could not load {path}: {e.Message}", e);
            }

            ResolveImports(typeof(Library).Assembly);
            var version = Library.VersionString;
            if (CheckVersion(version, ExpectedVersion, path) is { } mismatch)
            {
                throw new InvalidOperationException(mismatch);
            }

            return _loaded = new LibRdKafkaBuild(version, path);
        }
    }

    /// <summary>Resolves <paramref name="assembly"/>'s own <c>librdkafka</c> imports to the loaded build too.</summary>
    public static LibRdKafkaBuild ResolveFor(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        var build = Load();
        lock (Gate)
        {
            ResolveImports(assembly);
        }

        return build;
    }

    /// <summary>
    /// Where the redist's glibc-only build lands in an application's output: <c>runtimes/{rid}/native/</c> for a
    /// portable build, beside the application for a RID-specific publish.
    /// </summary>
    /// <exception cref="InvalidOperationException">The architecture has no such build, or the file is missing.</exception>
    public static string RedistPath(string baseDirectory, Architecture architecture, Func<string, bool> fileExists)
    {
        ArgumentNullException.ThrowIfNull(fileExists);
        if (!OperatingSystem.IsLinux())
        {
            throw new InvalidOperationException("Kiln's Kafka clients run on Linux only (they load the redist's Linux librdkafka).");
        }

        // linux-x64 ships librdkafka.so (needs libsasl2.so.3), centos8- (glibc only) and alpine- (musl);
        // linux-arm64 ships librdkafka.so (glibc only) and alpine- (musl, and libsasl2.so.3).
        var (rid, file) = architecture switch
        {
            Architecture.X64 => ("linux-x64", "centos8-librdkafka.so"),
            Architecture.Arm64 => ("linux-arm64", "librdkafka.so"),
            _ => throw new InvalidOperationException(
                $"librdkafka.redist has no build for linux-{architecture.ToString().ToLowerInvariant()} that runs on glibc alone " +
                "(it has linux-x64 and linux-arm64); Kiln's Kafka clients cannot run here."),
        };

        string[] candidates = [Path.Combine(baseDirectory, "runtimes", rid, "native", file), Path.Combine(baseDirectory, file)];
        return candidates.FirstOrDefault(fileExists) ?? throw new InvalidOperationException(
            $"{candidates[0]} is missing: librdkafka.redist's native files were not copied to the output. Restore and build again " +
            "(dotnet build); Kiln never uses a system librdkafka, and no apt package is needed.");
    }

    /// <summary>
    /// Null when <paramref name="loadedVersion"/> is the major.minor release <paramref name="expected"/> names;
    /// otherwise the startup error, naming what was loaded and the fix.
    /// </summary>
    public static string? CheckVersion(string loadedVersion, Version expected, string loadedFrom)
    {
        ArgumentNullException.ThrowIfNull(expected);
        var loaded = ParseVersion(loadedVersion);
        if (loaded is not null && loaded.Major == expected.Major && loaded.Minor == expected.Minor)
        {
            return null;
        }

        return $"librdkafka {loadedVersion} was loaded from {loadedFrom}, but Confluent.Kafka {expected.ToString(3)} needs librdkafka " +
            $"{expected.Major}.{expected.Minor}.x. Give librdkafka.redist the same version as Confluent.Kafka in Directory.Packages.props " +
            "and rebuild, so that the redist's build is the one in the output.";
    }

    /// <summary>"2.16.0", "2.16.0-RC1" or "2.16.0.3": the leading numbers, or null.</summary>
    private static Version? ParseVersion(string text)
    {
        var numeric = new string([.. text.TakeWhile(c => char.IsAsciiDigit(c) || c == '.')]).TrimEnd('.');
        return Version.TryParse(numeric.Contains('.', StringComparison.Ordinal) ? numeric : $"{numeric}.0", out var version) ? version : null;
    }

    private static void ResolveImports(Assembly assembly)
    {
        // SetDllImportResolver throws if the assembly already has one: set it once per assembly.
        if (ResolvedAssemblies.Add(assembly))
        {
            NativeLibrary.SetDllImportResolver(assembly, (name, _, _) => IsLibRdKafka(name) ? _handle : 0);
        }
    }

    /// <summary>Confluent.Kafka imports "librdkafka", and "centos8-librdkafka.so" as its fallback.</summary>
    private static bool IsLibRdKafka(string importName) =>
        importName.Contains("librdkafka", StringComparison.Ordinal);
}
