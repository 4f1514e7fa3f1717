using Kiln.AppHost.Model;
using Kiln.AppHost.Resources;

namespace Kiln.Tests.AppHost;

public sealed class ConfigurationForwardingTests
{
    [Fact]
    public void A_section_of_the_apphosts_configuration_reaches_the_project_under_the_same_keys_and_nothing_else_does()
    {
        var builder = DistributedApplicationBuilder.CreateBuilder(
            ["--Forwarded:Ingest:PermitsPerSecond=500", "--Forwarded:Ingest:Burst=1000", "--NotForwarded:Key=x"]);

        var api = builder.AddProject("api", "Kiln.Api").WithEnvironment(builder.Configuration.GetSection("Forwarded")).Resource;

        Assert.Equal(["Forwarded__Ingest__Burst", "Forwarded__Ingest__PermitsPerSecond"], api.Environment.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("500", api.Environment["Forwarded__Ingest__PermitsPerSecond"](null!));
    }

    [Fact]
    public void A_section_the_apphost_was_not_given_hands_nothing_on()
    {
        var builder = DistributedApplicationBuilder.CreateBuilder([]);
        var api = builder.AddProject("api", "Kiln.Api").WithEnvironment(builder.Configuration.GetSection("Forwarded")).Resource;
        Assert.Empty(api.Environment);
    }
}
