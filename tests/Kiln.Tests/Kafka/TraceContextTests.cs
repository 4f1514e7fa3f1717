using System.Collections.Concurrent;
using System.Diagnostics;
using Confluent.Kafka;
using Kiln.ServiceDefaults.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace Kiln.Tests.Kafka;

public sealed class TraceContextTests(DevKafkaFixture broker) : IClassFixture<DevKafkaFixture>
{
    [Fact]
    public async Task A_consumer_links_its_processing_span_to_the_span_that_published_the_message()
    {
        var topic = DevKafkaFixture.TracingTopic;
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = ListenToKafkaSpans(stopped);
        using var host = KafkaTestHost.Build(broker.BootstrapServers, builder =>
        {
            builder.AddKafkaProducer<string, string>(DevKafkaFixture.ConnectionName);
            builder.AddKafkaConsumer<string, string>(DevKafkaFixture.ConnectionName, config => config.GroupId = "tracing");
        });
        var producer = host.Services.GetRequiredService<IProducer<string, string>>();
        var consumer = host.Services.GetRequiredService<IConsumer<string, string>>();

        using var request = new Activity("POST /api/readings").Start();
        var headers = new Headers();
        ActivityContext published;
        using (var publish = KafkaTracing.StartPublish(topic, headers))
        {
            Assert.NotNull(publish);
            Assert.Equal(ActivityKind.Producer, publish.Kind);
            Assert.Equal($"{topic} publish", publish.DisplayName);
            Assert.Equal(request.SpanId, publish.ParentSpanId);
            Assert.Equal("kafka", publish.GetTagItem("messaging.system"));
            Assert.Equal(topic, publish.GetTagItem("messaging.destination.name"));
            published = publish.Context;
            await producer.ProduceAsync(topic, new Message<string, string> { Key = "sensor-1", Value = "21.5", Headers = headers });
        }

        request.Stop();

        ConsumeResult<string, string>? received = null;
        consumer.Subscribe(topic);
        consumer.ConsumeUntil(result => (received = result) is not null, TimeSpan.FromSeconds(30));

        var extracted = KafkaTracing.ExtractContext(received!.Message.Headers);
        Assert.NotNull(extracted);
        Assert.Equal(published.TraceId, extracted.Value.TraceId);
        Assert.Equal(published.SpanId, extracted.Value.SpanId);
        Assert.Equal(published.TraceFlags, extracted.Value.TraceFlags);
        Assert.True(extracted.Value.IsRemote);

        using (var process = KafkaTracing.StartProcess(topic, [extracted.Value], batchSize: 1))
        {
            Assert.NotNull(process);
            Assert.Equal(ActivityKind.Consumer, process.Kind);
            Assert.Equal($"{topic} process", process.DisplayName);
            Assert.Equal(1, process.GetTagItem("messaging.batch.message_count"));
            var link = Assert.Single(process.Links);
            Assert.Equal(published.TraceId, link.Context.TraceId);
            Assert.Equal(published.SpanId, link.Context.SpanId);
        }

        Assert.Equal(["kiln.test.tracing publish", "kiln.test.tracing process"], stopped.Select(activity => activity.DisplayName));
    }

    [Fact]
    public void An_ambient_trace_is_propagated_even_when_nobody_records_kafka_spans()
    {
        var headers = new Headers();
        using var request = new Activity("POST /api/readings").Start();

        using var publish = KafkaTracing.StartPublish(DevKafkaFixture.TracingTopic, headers);

        Assert.Null(publish);
        var extracted = KafkaTracing.ExtractContext(headers);
        Assert.NotNull(extracted);
        Assert.Equal(request.TraceId, extracted.Value.TraceId);
        Assert.Equal(request.SpanId, extracted.Value.SpanId);
    }

    [Fact]
    public void A_message_without_trace_headers_has_no_producer_context() =>
        Assert.Null(KafkaTracing.ExtractContext(new Headers { { "content-type", "application/json"u8.ToArray() } }));

    private static ActivityListener ListenToKafkaSpans(ConcurrentQueue<Activity> stopped)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == KafkaTracing.ActivitySourceName,
            Sample = (ref _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
