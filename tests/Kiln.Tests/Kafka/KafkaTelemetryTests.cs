using System.Collections.Concurrent;
using System.Diagnostics;
using Confluent.Kafka;
using Kiln.ServiceDefaults.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace Kiln.Tests.Kafka;

/// <summary>
/// Spans and metrics in one class: its tests run one after another, so a listener in one never sees another's spans.
/// </summary>
public sealed class KafkaTelemetryTests(DevKafkaFixture broker) : IClassFixture<DevKafkaFixture>
{
    [Fact]
    public async Task Processing_a_message_continues_the_trace_that_sent_it()
    {
        var topic = DevKafkaFixture.TracingTopic;
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = KafkaSpans.Listen(stopped);
        using var host = KafkaTestHost.Build(broker.BootstrapServers, builder =>
        {
            builder.AddKafkaProducer<string, string>(DevKafkaFixture.ConnectionName);
            builder.AddKafkaConsumer<string, string>(DevKafkaFixture.ConnectionName, settings => settings.Config.GroupId = "tracing");
        });
        var producer = host.Services.GetRequiredService<IProducer<string, string>>();
        var consumer = host.Services.GetRequiredService<IConsumer<string, string>>();

        using var request = new Activity("POST /api/v1/readings").Start();
        var headers = new Headers();
        ActivityContext sent;
        using (var send = KafkaTracing.StartSend(producer, topic, messageCount: 1, headers))
        {
            var span = send.Activity;
            Assert.NotNull(span);
            Assert.Equal(ActivityKind.Producer, span.Kind);
            Assert.Equal($"send {topic}", span.DisplayName);
            Assert.Equal(request.SpanId, span.ParentSpanId);
            sent = span.Context;
            await producer.ProduceAsync(topic, new Message<string, string> { Key = "sensor-1", Value = "21.5", Headers = headers });
        }

        request.Stop();

        ConsumeResult<string, string>? received = null;
        consumer.Subscribe(topic);
        consumer.ConsumeUntil(result => (received = result) is not null, TimeSpan.FromSeconds(30));

        var extracted = KafkaTracing.ExtractContext(received!.Message.Headers);
        Assert.NotNull(extracted);
        Assert.Equal(sent.TraceId, extracted.Value.TraceId);
        Assert.Equal(sent.SpanId, extracted.Value.SpanId);
        Assert.Equal(sent.TraceFlags, extracted.Value.TraceFlags);
        Assert.True(extracted.Value.IsRemote);

        using (var process = KafkaTracing.StartProcess(consumer, [received]))
        {
            var span = process.Activity;
            Assert.NotNull(span);
            Assert.Equal(ActivityKind.Consumer, span.Kind);
            Assert.Equal($"process {topic}", span.DisplayName);
            // One sender: its span is the parent, so the processing sits in the request's trace, and a link too.
            Assert.Equal(sent.TraceId, span.TraceId);
            Assert.Equal(sent.SpanId, span.ParentSpanId);
            var link = Assert.Single(span.Links);
            Assert.Equal(sent.SpanId, link.Context.SpanId);
        }

        Assert.Equal([$"send {topic}", $"process {topic}"], stopped.Select(activity => activity.DisplayName));
        var (sendSpan, processSpan) = (stopped.First(), stopped.Last());
        Assert.Equal("kafka", sendSpan.GetTagItem("messaging.system"));
        Assert.Equal("send", sendSpan.GetTagItem("messaging.operation.name"));
        Assert.Equal("send", sendSpan.GetTagItem("messaging.operation.type"));
        Assert.Equal(topic, sendSpan.GetTagItem("messaging.destination.name"));
        Assert.Equal("127.0.0.1", sendSpan.GetTagItem("server.address"));
        Assert.Equal(BrokerPort, sendSpan.GetTagItem("server.port"));
        Assert.Equal(producer.Name, sendSpan.GetTagItem("messaging.client.id"));
        Assert.Equal("kafka", processSpan.GetTagItem("messaging.system"));
        Assert.Equal("process", processSpan.GetTagItem("messaging.operation.name"));
        Assert.Equal("process", processSpan.GetTagItem("messaging.operation.type"));
        Assert.Equal(topic, processSpan.GetTagItem("messaging.destination.name"));
        Assert.Equal("0", processSpan.GetTagItem("messaging.destination.partition.id"));
        Assert.Equal("tracing", processSpan.GetTagItem("messaging.consumer.group.name"));
        Assert.Equal(received.Offset.Value, processSpan.GetTagItem("messaging.kafka.offset"));
        Assert.Equal("sensor-1", processSpan.GetTagItem("messaging.kafka.message.key"));
        Assert.Null(processSpan.GetTagItem("messaging.batch.message_count"));
    }

    [Fact]
    public async Task Sending_and_processing_record_the_messaging_metrics()
    {
        const int Total = 10;
        var topic = DevKafkaFixture.MetricsTopic;
        using var measurements = new KafkaMeasurements();
        using var host = KafkaTestHost.Build(broker.BootstrapServers, builder =>
        {
            builder.AddKafkaProducer<string, string>(DevKafkaFixture.ConnectionName);
            builder.AddKafkaConsumer<string, string>(DevKafkaFixture.ConnectionName, settings => settings.Config.GroupId = "metrics");
        });
        var producer = host.Services.GetRequiredService<IProducer<string, string>>();
        var consumer = host.Services.GetRequiredService<IConsumer<string, string>>();

        var headers = new Headers();
        using (var send = KafkaTracing.StartSend(producer, topic, Total, headers))
        {
            var deliveries = Enumerable.Range(0, Total)
                .Select(i => producer.ProduceAsync(topic, new Message<string, string> { Key = $"sensor-{i}", Value = "1", Headers = headers }))
                .ToArray();
            await Task.WhenAll(deliveries);
        }

        var batch = new List<ConsumeResult<string, string>>();
        consumer.Subscribe(topic);
        consumer.ConsumeUntil(result =>
        {
            batch.Add(result);
            return batch.Count == Total;
        }, TimeSpan.FromSeconds(30));
        KafkaTracing.StartProcess(consumer, batch).Dispose();

        // Counted once per send, when it ends; the messages went to both partitions.
        var sent = Assert.Single(measurements.Of("messaging.client.sent.messages", topic));
        Assert.Equal(Total, sent.Value);
        AssertClientTags(sent, "send", consumerGroup: null);
        Assert.False(sent.Tags.ContainsKey("error.type"));

        var sendDuration = Assert.Single(measurements.Of("messaging.client.operation.duration", topic));
        AssertClientTags(sendDuration, "send", consumerGroup: null);
        Assert.Equal("send", sendDuration.Tags["messaging.operation.type"]);
        Assert.InRange(sendDuration.Value, 0, 30);

        var consumed = measurements.Of("messaging.client.consumed.messages", topic);
        Assert.Equal(Total, consumed.Sum(m => m.Value));
        Assert.All(consumed, m => AssertClientTags(m, "poll", consumerGroup: "metrics"));

        var processDuration = Assert.Single(measurements.Of("messaging.process.duration", topic));
        AssertClientTags(processDuration, "process", consumerGroup: "metrics");
        Assert.False(processDuration.Tags.ContainsKey("messaging.destination.partition.id")); // the batch spans two
    }

    [Fact]
    public async Task A_failed_send_is_counted_and_timed_with_its_error_type()
    {
        var topic = DevKafkaFixture.MetricsTopic;
        using var measurements = new KafkaMeasurements();
        using var host = KafkaTestHost.Build(broker.BootstrapServers, builder => builder.AddKafkaProducer<string, byte[]>(DevKafkaFixture.ConnectionName));
        var producer = host.Services.GetRequiredService<IProducer<string, byte[]>>();

        using (var send = KafkaTracing.StartSend(producer, topic, messageCount: 1, new Headers()))
        {
            // Larger than message.max.bytes (1 MB): librdkafka refuses it before it reaches the broker.
            Task<DeliveryResult<string, byte[]>>[] deliveries =
                [producer.ProduceAsync(topic, new Message<string, byte[]> { Key = "too-big", Value = new byte[2_000_000] })];
            var error = await Assert.ThrowsAsync<ProduceException<string, byte[]>>(() => deliveries[0]);
            send.Fail(error);
        }

        var sent = Assert.Single(measurements.Of("messaging.client.sent.messages", topic));
        Assert.Equal("MsgSizeTooLarge", sent.Tags["error.type"]);
        Assert.Equal(1, sent.Value);
        Assert.Equal("MsgSizeTooLarge", Assert.Single(measurements.Of("messaging.client.operation.duration", topic)).Tags["error.type"]);
    }

    [Fact]
    public void The_process_span_covers_the_processing_and_not_the_wait_for_messages()
    {
        var topic = DevKafkaFixture.ProcessingTopic;
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = KafkaSpans.Listen(stopped);
        using var measurements = new KafkaMeasurements();
        using var host = KafkaTestHost.Build(broker.BootstrapServers, builder =>
        {
            builder.AddKafkaProducer<string, string>(DevKafkaFixture.ConnectionName);
            builder.AddKafkaConsumer<string, string>(DevKafkaFixture.ConnectionName, settings => settings.Config.GroupId = "covering");
        });
        var producer = host.Services.GetRequiredService<IProducer<string, string>>();
        var consumer = host.Services.GetRequiredService<IConsumer<string, string>>();
        producer.Produce(topic, new Message<string, string> { Key = "sensor-2", Value = "7" });
        producer.Flush(TimeSpan.FromSeconds(10));

        // Joining the group and fetching take a while: none of that belongs to the process span.
        var waitStarted = DateTime.UtcNow;
        ConsumeResult<string, string>? received = null;
        consumer.Subscribe(topic);
        consumer.ConsumeUntil(result => (received = result) is not null, TimeSpan.FromSeconds(30));
        var consumedAt = DateTime.UtcNow;

        DateTime processedAt;
        using (KafkaTracing.StartProcess(consumer, [received!]))
        {
            // The processing: here, a round trip to the broker.
            using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
            admin.GetMetadata(topic, TimeSpan.FromSeconds(10));
            processedAt = DateTime.UtcNow;
        }

        var span = Assert.Single(stopped, activity => activity.DisplayName == $"process {topic}");
        Assert.True(consumedAt - waitStarted > TimeSpan.FromMilliseconds(20), $"the wait took {consumedAt - waitStarted}");
        Assert.InRange(span.StartTimeUtc, consumedAt, processedAt);
        Assert.True(span.StartTimeUtc + span.Duration >= processedAt, $"the span ended {processedAt - (span.StartTimeUtc + span.Duration)} before the processing");
        var recorded = TimeSpan.FromSeconds(Assert.Single(measurements.Of("messaging.process.duration", topic)).Value);
        Assert.InRange(recorded, span.Duration - TimeSpan.FromMilliseconds(5), span.Duration + TimeSpan.FromMilliseconds(5));
    }

    [Fact]
    public void A_batch_from_several_sends_links_every_sender_and_starts_a_trace_of_its_own()
    {
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = KafkaSpans.Listen(stopped);
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig { BootstrapServers = broker.BootstrapServers, GroupId = "links" }).Build();
        var senders = new[] { ActivityTraceId.CreateRandom(), ActivityTraceId.CreateRandom() }
            .Select(traceId => new ActivityContext(traceId, ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded))
            .ToArray();
        ConsumeResult<string, string>[] batch = [.. senders.Concat(senders).Select((context, offset) => Received(context, offset))];

        using (var process = KafkaTracing.StartProcess(consumer, batch))
        {
            Assert.NotNull(process.Activity);
            Assert.Equal(default, process.Activity.ParentSpanId);
            Assert.DoesNotContain(process.Activity.TraceId, senders.Select(context => context.TraceId));
            Assert.Equal(senders.Select(context => context.SpanId.ToHexString()).Order(),
                process.Activity.Links.Select(link => link.Context.SpanId.ToHexString()).Order());
            Assert.Equal(4, process.Activity.GetTagItem("messaging.batch.message_count"));
            Assert.Equal("3", process.Activity.GetTagItem("messaging.destination.partition.id"));
            Assert.Null(process.Activity.GetTagItem("messaging.kafka.offset"));
        }
    }

    [Fact]
    public void Messages_of_one_send_side_by_side_make_one_link_each_sender()
    {
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = KafkaSpans.Listen(stopped);
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig { BootstrapServers = broker.BootstrapServers, GroupId = "runs" }).Build();
        var (a, b) = (new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded),
            new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded));
        ConsumeResult<string, string>[] batch = [.. new[] { a, a, a, b, b, a }.Select((context, offset) => Received(context, offset))];

        using var process = KafkaTracing.StartProcess(consumer, batch);

        Assert.NotNull(process.Activity);
        Assert.Equal(new[] { a.SpanId.ToHexString(), b.SpanId.ToHexString() }.Order(),
            process.Activity.Links.Select(link => link.Context.SpanId.ToHexString()).Order());
    }

    [Fact]
    public void An_ambient_trace_is_propagated_even_when_nobody_records_kafka_spans()
    {
        var headers = new Headers();
        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = broker.BootstrapServers }).Build();
        using var request = new Activity("POST /api/v1/readings").Start();

        using var send = KafkaTracing.StartSend(producer, DevKafkaFixture.TracingTopic, messageCount: 1, headers);

        Assert.Null(send.Activity);
        var extracted = KafkaTracing.ExtractContext(headers);
        Assert.NotNull(extracted);
        Assert.Equal(request.TraceId, extracted.Value.TraceId);
        Assert.Equal(request.SpanId, extracted.Value.SpanId);
    }

    [Fact]
    public void A_message_without_trace_headers_has_no_producer_context() =>
        Assert.Null(KafkaTracing.ExtractContext(new Headers { { "content-type", "application/json"u8.ToArray() } }));

    private int BrokerPort => int.Parse(broker.BootstrapServers.Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture);

    private void AssertClientTags(Measurement measurement, string operation, string? consumerGroup)
    {
        Assert.Equal("kafka", measurement.Tags["messaging.system"]);
        Assert.Equal(operation, measurement.Tags["messaging.operation.name"]);
        Assert.Equal("127.0.0.1", measurement.Tags["server.address"]);
        Assert.Equal(BrokerPort, measurement.Tags["server.port"]);
        Assert.Equal(consumerGroup, measurement.Tags.GetValueOrDefault("messaging.consumer.group.name"));
        Assert.False(measurement.Tags.ContainsKey("messaging.client.id")); // one series per process would be noise
    }

    private static ConsumeResult<string, string> Received(ActivityContext sender, int offset)
    {
        // The header a send span with this context writes.
        var headers = new Headers { { "traceparent", System.Text.Encoding.UTF8.GetBytes($"00-{sender.TraceId}-{sender.SpanId}-01") } };
        return new ConsumeResult<string, string>
        {
            TopicPartitionOffset = new TopicPartitionOffset(DevKafkaFixture.TracingTopic, 3, offset),
            Message = new Message<string, string> { Key = "sensor-1", Value = "1", Headers = headers },
        };
    }
}
