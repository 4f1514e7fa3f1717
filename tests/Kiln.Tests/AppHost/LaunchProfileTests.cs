using Kiln.AppHost.Resources;

namespace Kiln.Tests.AppHost;

public sealed class LaunchProfileTests : IDisposable
{
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"kiln-launch-{Guid.NewGuid():N}.json");

    private LaunchProfile? Select(string json, string? preferred = null)
    {
        File.WriteAllText(_file, json);
        return LaunchProfile.Select(_file, preferred);
    }

    [Fact]
    public void The_first_project_profile_is_chosen_and_its_variables_come_along()
    {
        var profile = Select("""
            { "profiles": {
                "docker": { "commandName": "Docker" },
                "http": { "commandName": "Project", "environmentVariables": { "ASPNETCORE_ENVIRONMENT": "Development", "X": "1" } },
                "https": { "commandName": "Project" } } }
            """);
        Assert.Equal("http", profile!.Name);
        Assert.Equal("Development", profile.EnvironmentVariables["ASPNETCORE_ENVIRONMENT"]);
        Assert.Equal("1", profile.EnvironmentVariables["X"]);
    }

    [Fact]
    public void The_apphosts_own_profile_name_wins_when_the_project_has_it()
    {
        const string json = """{ "profiles": { "http": { "commandName": "Project" }, "https": { "commandName": "Project" } } }""";
        Assert.Equal("https", Select(json, preferred: "https")!.Name);
        Assert.Equal("http", Select(json, preferred: "AppHost")!.Name);
    }

    [Theory]
    [InlineData("""{ "iisSettings": {} }""")]
    [InlineData("""{ "profiles": { "docker": { "commandName": "Docker" } } }""")]
    public void Without_a_usable_profile_there_is_none_and_the_project_runs_as_production(string json) =>
        Assert.Null(Select(json));

    [Fact]
    public void A_missing_file_means_no_profile() => Assert.Null(LaunchProfile.Select("/nonexistent/launchSettings.json", null));

    [Theory]
    [InlineData("api", "API")]
    [InlineData("web-frontend", "WEB_FRONTEND")]
    [InlineData("a.b", "A_B")]
    public void Service_names_become_environment_variable_names(string resource, string expected) =>
        Assert.Equal(expected, ProjectResource.EnvironmentName(resource));

    public void Dispose() => File.Delete(_file);
}
