using System.Runtime.InteropServices;
using Confluent.Kafka;
using Kiln.ServiceDefaults.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Xunit;

namespace Kiln.Tests.Kafka;

public sealed class NativeLibraryTests(DevKafkaFixture broker) : IClassFixture<DevKafkaFixture>
{
    private static readonly string RedistBuild = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "centos8-librdkafka.so");

    [Fact]
    public void This_process_runs_on_librdkafka_2_16_0_from_the_redist_and_on_no_other()
    {
        var library = KafkaNativeLibrary.Load();

        Assert.Equal("2.16.0", library.Version);
        Assert.Equal("2.16.0", Library.VersionString);
        Assert.Equal(RedistBuild, library.Path);
        Assert.Equal([RedistBuild], MappedLibRdKafkaFiles(Environment.ProcessId));
    }

    [Fact]
    public void The_dev_broker_runs_on_the_redist_build_too()
    {
        var files = MappedLibRdKafkaFiles(broker.ProcessId);

        var file = Assert.Single(files);
        Assert.EndsWith(Path.Combine("tools", "DevKafka", "bin", DevKafkaLocator.Configuration, DevKafkaLocator.TargetFramework, "runtimes", "linux-x64", "native",
            "centos8-librdkafka.so"), file,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_service_says_once_at_start_which_librdkafka_it_runs_on()
    {
        using var logs = new FakeLoggerProvider();
        using var host = KafkaTestHost.Build(broker.BootstrapServers, builder =>
        {
            builder.Logging.AddProvider(logs);
            builder.AddKafkaProducer<string, string>(DevKafkaFixture.ConnectionName);
            builder.AddKafkaProducer<string, byte[]>(DevKafkaFixture.ConnectionName);
            builder.AddKafkaConsumer<string, string>(DevKafkaFixture.ConnectionName, settings => settings.Config.GroupId = "log");
        });

        await host.StartAsync();
        await host.StopAsync();

        var line = Assert.Single(logs.Collector.GetSnapshot(), record => record.Message.Contains("librdkafka", StringComparison.Ordinal));
        Assert.Equal($"librdkafka 2.16.0 loaded from {RedistBuild}", line.Message);
    }

    [Theory]
    [InlineData("2.16.0")]
    [InlineData("2.16.3")]
    [InlineData("2.16.0-RC2")]
    public void The_release_confluent_kafka_was_built_for_passes(string loaded) =>
        Assert.Null(KafkaNativeLibrary.CheckVersion(loaded, new Version(2, 16, 0), RedistBuild));

    [Fact]
    public void A_version_mismatch_names_what_was_loaded_and_the_fix()
    {
        var problem = KafkaNativeLibrary.CheckVersion("2.0.2", new Version(2, 16, 0), "/usr/lib/x86_64-linux-gnu/librdkafka.so.1");

        Assert.NotNull(problem);
        Assert.Contains("librdkafka 2.0.2 was loaded from /usr/lib/x86_64-linux-gnu/librdkafka.so.1", problem, StringComparison.Ordinal);
        Assert.Contains("Confluent.Kafka 2.16.0 needs librdkafka 2.16.x", problem, StringComparison.Ordinal);
        Assert.Contains("librdkafka.redist", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("2.17.0")]
    [InlineData("1.16.0")]
    [InlineData("")]
    [InlineData("unknown")]
    public void Another_release_or_no_version_is_a_mismatch(string loaded) =>
        Assert.NotNull(KafkaNativeLibrary.CheckVersion(loaded, new Version(2, 16, 0), RedistBuild));

    [Theory]
    [InlineData(Architecture.X64, "runtimes/linux-x64/native/centos8-librdkafka.so")]
    [InlineData(Architecture.Arm64, "runtimes/linux-arm64/native/librdkafka.so")]
    public void The_build_that_needs_only_glibc_is_chosen(Architecture architecture, string expected) =>
        Assert.Equal($"/app/{expected}", KafkaNativeLibrary.RedistPath("/app/", architecture, _ => true));

    [Fact]
    public void A_rid_specific_publish_finds_the_build_beside_the_application() =>
        Assert.Equal("/app/centos8-librdkafka.so",
            KafkaNativeLibrary.RedistPath("/app/", Architecture.X64, path => path == "/app/centos8-librdkafka.so"));

    [Fact]
    public void A_missing_build_says_to_rebuild_rather_than_to_install_a_system_copy()
    {
        var error = Assert.Throws<InvalidOperationException>(() => KafkaNativeLibrary.RedistPath("/app/", Architecture.X64, _ => false));

        Assert.Contains("/app/runtimes/linux-x64/native/centos8-librdkafka.so is missing", error.Message, StringComparison.Ordinal);
        Assert.Contains("dotnet build", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Architecture.X86)]
    [InlineData(Architecture.Ppc64le)]
    [InlineData(Architecture.S390x)]
    public void An_architecture_without_a_glibc_build_is_refused_by_name(Architecture architecture)
    {
        var error = Assert.Throws<InvalidOperationException>(() => KafkaNativeLibrary.RedistPath("/app/", architecture, _ => true));

        Assert.Contains($"linux-{architecture.ToString().ToLowerInvariant()}", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Every file named like librdkafka that the process has mapped: what it really loaded.</summary>
    private static List<string> MappedLibRdKafkaFiles(int pid) =>
        [.. File.ReadLines($"/proc/{pid}/maps")
            .Select(line => line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length == 6 && fields[5].Contains("librdkafka", StringComparison.Ordinal))
            .Select(fields => fields[5].Trim())
            .Distinct()];
}
