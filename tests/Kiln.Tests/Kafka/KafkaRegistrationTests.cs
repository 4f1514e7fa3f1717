using Microsoft.Extensions.Hosting;
using Xunit;

namespace Kiln.Tests.Kafka;

public sealed class KafkaRegistrationTests
{
    [Fact]
    public void A_missing_connection_string_names_the_variable_to_set()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddKafkaProducer<string, string>("kafka"));

        Assert.Contains("ConnectionStrings__kafka", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_consumer_without_a_group_is_refused()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration["ConnectionStrings:kafka"] = "127.0.0.1:9092";

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddKafkaConsumer<string, string>("kafka", _ => { }));

        Assert.Contains("GroupId", error.Message, StringComparison.Ordinal);
    }
}
