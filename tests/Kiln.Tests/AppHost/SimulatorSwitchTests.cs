using Kiln.AppHost.Model;
using Kiln.AppHost.Testing;
using Microsoft.Extensions.Configuration;

namespace Kiln.Tests.AppHost;

/// <summary>The demo plant runs with <c>dotnet run</c>, is left out with <c>--no-simulator</c>, and never runs in tests.</summary>
public sealed class SimulatorSwitchTests
{
    [Fact]
    public void The_simulator_is_on_unless_the_command_line_says_no_simulator()
    {
        Assert.True(DistributedApplicationBuilder.CreateBuilder([]).Configuration.GetValue("Kiln:Simulator:Enabled", true));

        var builder = DistributedApplicationBuilder.CreateBuilder(["--no-simulator", "--state-dir", "/tmp/x", "--Kiln:Simulator:Seed=3"]);
        Assert.False(builder.Configuration.GetValue("Kiln:Simulator:Enabled", true));
        Assert.Equal("/tmp/x", builder.StateDirectory); // the switch takes no value: the next argument is still read
        Assert.Equal("3", builder.Configuration["Kiln:Simulator:Seed"]);
    }

    [Fact]
    public async Task The_test_host_declares_the_platform_without_the_simulator()
    {
        var appHost = await DistributedApplicationTestingBuilder.CreateAsync();
        await using var app = await appHost.BuildAsync();
        Assert.Contains(app.Resources, r => r.Name == "web");
        Assert.DoesNotContain(app.Resources, r => r.Name == "simulator");
    }
}
