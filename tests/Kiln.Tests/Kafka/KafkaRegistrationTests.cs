using Confluent.Kafka;
using Kiln.ServiceDefaults.Kafka;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace Kiln.Tests.Kafka;

public sealed class KafkaRegistrationTests
{
    [Fact]
    public void A_missing_connection_string_names_the_variable_to_set()
    {
        var builder = EmptyBuilder();

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddKafkaProducer<string, string>("kafka"));

        Assert.Contains("ConnectionStrings__kafka", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_consumer_without_a_group_is_refused()
    {
        var builder = EmptyBuilder();
        builder.Configuration["ConnectionStrings:kafka"] = "127.0.0.1:9092";

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddKafkaConsumer<string, string>("kafka"));

        Assert.Contains("GroupId", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Settings_come_from_the_aspire_sections_over_kilns_defaults_and_the_connection_string_is_the_bootstrap_list()
    {
        var builder = EmptyBuilder();
        builder.Configuration["ConnectionStrings:kafka"] = "127.0.0.1:9092";
        builder.Configuration["Aspire:Confluent:Kafka:Producer:Config:LingerMs"] = "20";
        builder.Configuration["Aspire:Confluent:Kafka:Producer:kafka:Config:ClientId"] = "api";
        builder.Configuration["Aspire:Confluent:Kafka:Producer:DisableMetrics"] = "true";
        KafkaProducerSettings? seen = null;

        builder.AddKafkaProducer<string, string>("kafka", settings => seen = settings);

        Assert.NotNull(seen);
        Assert.Equal("127.0.0.1:9092", seen.ConnectionString);
        Assert.Equal("127.0.0.1:9092", seen.Config.BootstrapServers);
        Assert.Equal(20, seen.Config.LingerMs);
        Assert.Equal("api", seen.Config.ClientId);
        Assert.True(seen.DisableMetrics);
        // Kiln's defaults stay where nothing overrides them.
        Assert.Equal(Acks.All, seen.Config.Acks);
        Assert.True(seen.Config.EnableIdempotence);
        Assert.Equal(CompressionType.Zstd, seen.Config.CompressionType);
    }

    [Fact]
    public void A_consumers_group_may_come_from_configuration_and_its_defaults_commit_by_hand()
    {
        var builder = EmptyBuilder();
        builder.Configuration["ConnectionStrings:kafka"] = "127.0.0.1:9092";
        builder.Configuration["Aspire:Confluent:Kafka:Consumer:kafka:Config:GroupId"] = "worker";
        KafkaConsumerSettings? seen = null;

        builder.AddKafkaConsumer<string, string>("kafka", settings => seen = settings);

        Assert.Equal("worker", seen!.Config.GroupId);
        Assert.False(seen.Config.EnableAutoCommit);
        Assert.Equal(AutoOffsetReset.Earliest, seen.Config.AutoOffsetReset);
    }

    // No defaults: the machine's environment must not leak a ConnectionStrings__kafka into the test.
    private static HostApplicationBuilder EmptyBuilder() =>
        Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
}
