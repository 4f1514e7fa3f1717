namespace Kiln.Tests.Kafka;

/// <summary>Finds the built development broker (tools/DevKafka), which the tests run as a child process.</summary>
internal static class DevKafkaLocator
{
    public const string AssemblyVariable = "KILN_DEVKAFKA_DLL";
    private const string AssemblyName = "Kiln.DevKafka.dll";

    /// <summary>The configuration the tests were built in: the test assembly lives in <c>bin/{Configuration}/{TargetFramework}/</c>.</summary>
    public static string Configuration => new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;

    public static string TargetFramework => new DirectoryInfo(AppContext.BaseDirectory).Name;

    public static string FindAssembly()
    {
        if (Environment.GetEnvironmentVariable(AssemblyVariable) is { Length: > 0 } configured)
        {
            return File.Exists(configured)
                ? configured
                : throw new FileNotFoundException($"{AssemblyVariable} points at a missing file.", configured);
        }

        // Otherwise the build of tools/DevKafka in the repository the tests run from, in the tests' own configuration
        // (bench/run leaves a newer Release build beside the Debug one a plain dotnet test makes), else its newest build.
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var binaries = new DirectoryInfo(Path.Combine(directory.FullName, "tools", "DevKafka", "bin"));
            if (!binaries.Exists)
            {
                continue;
            }

            var sameConfiguration = new FileInfo(Path.Combine(binaries.FullName, Configuration, TargetFramework, AssemblyName));
            var newest = sameConfiguration.Exists
                ? sameConfiguration
                : binaries.EnumerateFiles(AssemblyName, SearchOption.AllDirectories).OrderByDescending(file => file.LastWriteTimeUtc).FirstOrDefault();
            if (newest is not null)
            {
                return newest.FullName;
            }
        }

        throw new FileNotFoundException(
            $"{AssemblyName} not found: build tools/DevKafka/DevKafka.csproj or set {AssemblyVariable}.");
    }
}
