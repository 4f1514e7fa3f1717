using System.Reflection;

namespace Kiln.AppHost.Model;

/// <summary>Facts AppHost.csproj records in the assembly at build time (see its EmbedKilnProgramPaths target).</summary>
internal static class BuildMetadata
{
    public static string? Find(string key) =>
        typeof(BuildMetadata).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value;
}
