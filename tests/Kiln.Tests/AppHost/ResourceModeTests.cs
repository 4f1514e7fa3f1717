using Kiln.AppHost.Launching;
using Kiln.AppHost.Model;
using Kiln.AppHost.Provisioning;
using Kiln.AppHost.Testing;
using Microsoft.Extensions.Configuration;

namespace Kiln.Tests.AppHost;

/// <summary>How a backing resource's mode is chosen (SPEC.md: existing, else container when an engine answers, else local).</summary>
public sealed class ResourceModeTests : IDisposable
{
    // An engine that cannot be: what auto and container decide on a machine without one, whatever this machine has.
    private const string NoEngine = "--Kiln:Containers:Engine=/nonexistent/podman";
    private readonly string _state = DistributedApplicationTestingBuilder.NewStateDirectory();

    [Fact]
    public void A_configured_connection_string_means_existing_whatever_the_mode() =>
        Assert.Equal(ResourceMode.Existing, Context("--mode", "container", NoEngine).ModeFor("pg", hasExistingConnectionString: true));

    [Fact]
    public void Auto_without_a_working_engine_is_local() =>
        Assert.Equal(ResourceMode.Local, Context(NoEngine).ModeFor("pg", hasExistingConnectionString: false));

    [Fact]
    public void Mode_local_never_looks_for_an_engine()
    {
        var context = Context("--mode", "local");
        Assert.Equal(ResourceMode.Local, context.ModeFor("cache", hasExistingConnectionString: false));
        Assert.Null(context.ContainerEngineIfFound);
    }

    [Fact]
    public void A_resource_s_own_mode_wins_over_the_command_line_s()
    {
        var context = Context("--mode", "container", "--Kiln:Resources:kafka:Mode=local", NoEngine);
        Assert.Equal(ResourceMode.Local, context.ModeFor("kafka", hasExistingConnectionString: false));
        Assert.Throws<ProvisioningException>(() => context.ModeFor("pg", hasExistingConnectionString: false));
    }

    [Fact]
    public void Container_mode_without_a_working_engine_stops_with_the_reason()
    {
        var error = Assert.Throws<ProvisioningException>(() => Context("--mode", "container", NoEngine).ModeFor("pg", hasExistingConnectionString: false));
        Assert.Contains("/nonexistent/podman: not found", error.Message, StringComparison.Ordinal);
        Assert.Contains("--mode local", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_mode_is_refused_with_the_ones_there_are()
    {
        var error = Assert.Throws<ProvisioningException>(() => Context("--mode", "vm").ModeFor("cache", hasExistingConnectionString: false));
        Assert.Contains("'vm' is not one of auto, local, container", error.Message, StringComparison.Ordinal);
    }

    private RunContext Context(params string[] args)
    {
        var builder = DistributedApplicationBuilder.CreateBuilder(["--state-dir", _state, .. args]);
        var state = new StateDirectory(_state);
        return new RunContext(state, Secrets.LoadOrCreate(state.SecretsFile), builder.Configuration, new ConsoleSink(echo: false),
            new ProcessRegistry(state.ProcessesFile));
    }

    public void Dispose() => DistributedApplicationTestingBuilder.RemoveStateDirectory(_state);
}
