using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Kiln.Shared;

namespace Kiln.Worker.Ingestion;

/// <summary>
/// Sends a message the Worker cannot process to <c>kiln.readings.dlq</c>, unchanged, with the reason
/// and its origin (topic, partition, offset) in headers, and waits for the broker's acknowledgement
/// so the original's offset may be committed.
/// </summary>
internal sealed class DeadLetterWriter(IProducer<string, byte[]> producer, ILogger<DeadLetterWriter> logger)
{
    public const string ReasonHeader = "kiln-dlq-reason";
    public const string OriginTopicHeader = "kiln-origin-topic";
    public const string OriginPartitionHeader = "kiln-origin-partition";
    public const string OriginOffsetHeader = "kiln-origin-offset";

    public async Task WriteAsync(ConsumeResult<string, byte[]> origin, string reason, CancellationToken cancellationToken)
    {
        var headers = new Headers();
        foreach (var header in origin.Message.Headers ?? [])
        {
            headers.Add(header.Key, header.GetValueBytes());
        }

        headers.Add(ReasonHeader, Encoding.UTF8.GetBytes(reason));
        headers.Add(OriginTopicHeader, Encoding.UTF8.GetBytes(origin.Topic));
        headers.Add(OriginPartitionHeader, Encoding.UTF8.GetBytes(origin.Partition.Value.ToString(CultureInfo.InvariantCulture)));
        headers.Add(OriginOffsetHeader, Encoding.UTF8.GetBytes(origin.Offset.Value.ToString(CultureInfo.InvariantCulture)));

        await producer.ProduceAsync(Topology.Topics.ReadingsDeadLetter,
            new Message<string, byte[]> { Key = origin.Message.Key, Value = origin.Message.Value, Headers = headers },
            cancellationToken);
        logger.LogWarning("Dead-lettered {Topic}[{Partition}]@{Offset}: {Reason}", origin.Topic, origin.Partition.Value, origin.Offset.Value, reason);
    }
}
