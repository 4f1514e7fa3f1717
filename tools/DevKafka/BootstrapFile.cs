namespace Kiln.DevKafka;

internal static class BootstrapFile
{
    /// <summary>
    /// Writes the bootstrap list so a reader never sees a half-written file: write a sibling, then rename over.
    /// </summary>
    public static void WriteAtomically(string path, string bootstrapServers)
    {
        var fullPath = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        var temporary = $"{fullPath}.{Environment.ProcessId}.tmp";
        File.WriteAllText(temporary, bootstrapServers);
        File.Move(temporary, fullPath, overwrite: true);
    }
}
