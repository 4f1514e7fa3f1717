using Microsoft.Extensions.Hosting;

namespace Kiln.Tests.Kafka;

/// <summary>A host shaped like a Kiln service: configuration from the AppHost, clients from ServiceDefaults.</summary>
internal static class KafkaTestHost
{
    public static IHost Build(string bootstrapServers, Action<IHostApplicationBuilder> addClients, string connectionName = DevKafkaFixture.ConnectionName)
    {
        // No defaults: the machine's environment must not leak a ConnectionStrings__kafka into the test.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration[$"ConnectionStrings:{connectionName}"] = bootstrapServers;
        addClients(builder);
        return builder.Build();
    }
}
