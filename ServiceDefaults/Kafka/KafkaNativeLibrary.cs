using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Kiln.ServiceDefaults.Kafka;

/// <summary>The librdkafka a process runs on: its version and the file it was loaded from.</summary>
public sealed record LibRdKafkaBuild(string Version, string Path);

/// <summary>
/// Makes a process run on the librdkafka that librdkafka.redist ships, and on nothing else. The redist's default
/// linux-x64 build needs libsasl2.so.3, which Debian 12 lacks, and then Confluent.Kafka silently falls back to any
/// librdkafka the system has. So every <c>librdkafka</c> import is resolved to the build that needs only glibc, and
/// its version is checked against Confluent.Kafka's. Also compiled into tools/DevKafka, which P/Invokes it too.
/// </summary>
public static class KafkaNativeLibrary
{
    // A failed load is not retried: every later call gets the same error.
    private static readonly Lazy<LibRdKafkaBuild> Redist = new(LoadRedist);
    private static readonly ConcurrentDictionary<Assembly, bool> ResolvedAssemblies = new();
    private static nint _handle;

    /// <summary>
    /// Loads the redist's librdkafka once per process, checks its version, and resolves Confluent.Kafka's imports (and
    /// <paramref name="importer"/>'s) to it. Call it before the first Kafka client is created.
    /// </summary>
    /// <exception cref="InvalidOperationException">No build for this machine, a version mismatch, or librdkafka loaded too early; the message says how to fix it.</exception>
    /// <exception cref="DllNotFoundException">The build is there but does not load; the message names the file and the cause.</exception>
    public static LibRdKafkaBuild Load(Assembly? importer = null)
    {
        var build = Redist.Value;
        ResolveImports(importer ?? typeof(Library).Assembly);
        return build;
    }

    private static LibRdKafkaBuild LoadRedist()
    {
        if (Library.IsLoaded)
        {
            throw new InvalidOperationException(
                "librdkafka was loaded before Kiln chose which build to load, so it may be a system copy: " +
                "call KafkaNativeLibrary.Load() (AddKafkaProducer/AddKafkaConsumer do) before creating any Kafka client.");
        }

        var path = RedistPath(AppContext.BaseDirectory, RuntimeInformation.ProcessArchitecture, File.Exists);
        _handle = NativeLibrary.Load(path);
        ResolveImports(typeof(Library).Assembly);
        var version = Library.VersionString;
        return CheckVersion(version, typeof(Library).Assembly.GetName().Version!, path) is { } mismatch
            ? throw new InvalidOperationException(mismatch)
            : new LibRdKafkaBuild(version, path);
    }

    /// <summary>Where the redist's glibc-only build lands: <c>runtimes/{rid}/native/</c>, or beside a RID-specific publish.</summary>
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

    /// <summary>Null when <paramref name="loadedVersion"/> ("2.16.0", "2.16.3-RC1") is of <paramref name="expected"/>'s major.minor; else the error.</summary>
    public static string? CheckVersion(string loadedVersion, Version expected, string loadedFrom)
    {
        ArgumentNullException.ThrowIfNull(loadedVersion);
        ArgumentNullException.ThrowIfNull(expected);
        return loadedVersion.StartsWith($"{expected.Major}.{expected.Minor}.", StringComparison.Ordinal)
            ? null
            : $"librdkafka {loadedVersion} was loaded from {loadedFrom}, but Confluent.Kafka {expected.ToString(3)} needs librdkafka " +
                $"{expected.Major}.{expected.Minor}.x. Give librdkafka.redist the same version as Confluent.Kafka in Directory.Packages.props " +
                "and rebuild, so that the redist's build is the one in the output.";
    }

    private static void ResolveImports(Assembly assembly)
    {
        // SetDllImportResolver throws if the assembly already has one: set it once per assembly. Confluent.Kafka
        // imports "librdkafka", and "centos8-librdkafka.so" as its fallback.
        if (ResolvedAssemblies.TryAdd(assembly, true))
        {
            NativeLibrary.SetDllImportResolver(assembly, (name, _, _) => name.Contains("librdkafka", StringComparison.Ordinal) ? _handle : 0);
        }
    }
}
