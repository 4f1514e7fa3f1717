using System.Globalization;
using Kiln.Dashboard.Configuration;

namespace Kiln.Dashboard.Persistence;

/// <summary>
/// One dashboard per storage folder: the first holds an exclusive lock on <c>{folder}/dashboard.lock</c> (an OS file
/// lock — .NET takes <c>flock</c> for <see cref="FileShare.None"/> on Unix — which the kernel releases when the process
/// ends, even by SIGKILL, so a crashed dashboard never leaves the folder locked). A second one over the same folder
/// cannot take it and stops before it touches any run file, saying which folder, which process holds it (from
/// <c>dashboard.owner</c>, written by the holder) and what to do.
/// </summary>
internal sealed class StorageFolderLock : IDisposable
{
    public const string LockFileName = "dashboard.lock";
    public const string OwnerFileName = "dashboard.owner";

    private readonly FileStream _lock;

    private StorageFolderLock(FileStream held) => _lock = held;

    /// <summary>Takes the folder's lock (creating the folder), or throws <see cref="DashboardConfigurationException"/>.</summary>
    public static StorageFolderLock Acquire(string folder)
    {
        Directory.CreateDirectory(folder);
        FileStream held;
        try
        {
            held = new FileStream(Path.Combine(folder, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new DashboardConfigurationException(
                $"Another dashboard ({Owner(folder)}) keeps its runs in {folder}; two dashboards writing one folder would " +
                "damage each other's run files. Stop that one, or give this one a folder of its own: " +
                "--Dashboard:Storage:Path=<folder> (environment: Dashboard__Storage__Path), or an empty path to keep telemetry in memory only.");
        }

        try
        {
            File.WriteAllText(Path.Combine(folder, OwnerFileName), string.Create(CultureInfo.InvariantCulture,
                $"process {Environment.ProcessId} ({Environment.ProcessPath ?? "unknown"}), started {DateTimeOffset.UtcNow:O}\n"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The lock is what matters; the owner's name only makes the other's message clearer.
        }

        return new StorageFolderLock(held);
    }

    private static string Owner(string folder)
    {
        try
        {
            return File.ReadAllText(Path.Combine(folder, OwnerFileName)).Trim() is { Length: > 0 } owner ? owner : "its process is not known";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "its process is not known";
        }
    }

    public void Dispose() => _lock.Dispose();
}
