namespace Kiln.AppHost.Provisioning;

/// <summary>Files that hold secrets: created mode 600 before the first byte is written, never widened.</summary>
internal static class OwnerOnlyFile
{
    public static void Write(string path, string content)
    {
        File.Delete(path);
        using var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        using var writer = new StreamWriter(stream);
        writer.Write(content);
    }
}
