namespace Kiln.AppHost.Provisioning;

/// <summary>
/// <c>.apphost/</c> beside the solution: data of local resources (kept across runs), generated
/// secrets (owner-only), the endpoints file and the process registry. <c>--fresh</c> wipes it.
/// </summary>
internal sealed class StateDirectory
{
    public StateDirectory(string root)
    {
        Root = Path.GetFullPath(root);
    }

    public string Root { get; }

    public string SecretsFile => Path.Combine(Root, "secrets.json");
    public string EndpointsFile => Path.Combine(Root, "endpoints.json");
    public string ProcessesFile => Path.Combine(Root, "processes.json");

    /// <summary>A resource's own folder, created on first use.</summary>
    public string For(string resource)
    {
        var path = Path.Combine(Root, resource);
        Directory.CreateDirectory(path);
        return path;
    }

    public void Create()
    {
        Directory.CreateDirectory(Root);
        // Owner-only listing; others may traverse (execute) so a server running as its own system
        // user (PostgreSQL as 'postgres') can reach the folder it was given inside.
        File.SetUnixFileMode(Root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
    }

    /// <summary>Deletes everything in the folder but the lock this AppHost holds.</summary>
    public void Wipe()
    {
        if (!Directory.Exists(Root))
        {
            return;
        }

        foreach (var directory in Directory.EnumerateDirectories(Root))
        {
            Directory.Delete(directory, recursive: true);
        }

        foreach (var file in Directory.EnumerateFiles(Root).Where(f => Path.GetFileName(f) != LockFileName))
        {
            File.Delete(file);
        }
    }

    private const string LockFileName = "apphost.lock";

    /// <summary>
    /// Takes the folder for this AppHost alone. A second AppHost on the same folder would otherwise
    /// end the first one's processes as leftovers and share its data directories.
    /// </summary>
    public IDisposable Lock()
    {
        var path = Path.Combine(Root, LockFileName);
        try
        {
            // .NET takes an exclusive flock for FileShare.None; the kernel drops it when this process dies.
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            throw new ProvisioningException(
                $"Another AppHost is running with {Root}. Stop it first, or give this one its own folder with --state-dir.");
        }
    }

    /// <summary>The default: <c>.apphost/</c> in the repository the AppHost was built from.</summary>
    public static string DefaultRoot()
    {
        var root = Model.BuildMetadata.Find("kiln-repository-root");
        return Path.Combine(root ?? Environment.CurrentDirectory, ".apphost");
    }
}
