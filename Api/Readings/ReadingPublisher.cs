using Confluent.Kafka;
using Kiln.ServiceDefaults.Kafka;
using Kiln.Shared;
using Kiln.Shared.Readings;

namespace Kiln.Api.Readings;

/// <summary>
/// Produces accepted readings to <c>kiln.readings</c>, keyed by sensor id (so one sensor's readings stay
/// in order on one partition), and returns only once the broker has acknowledged every one of them
/// (acks=all, idempotent producer) or the delivery timeout has passed.
/// </summary>
internal sealed class ReadingPublisher(IProducer<string, byte[]> producer, IngestOptions options, IngestAdmission admission)
{
    /// <summary>A record's own fields (length, attributes, deltas, counts) at their widest, and a record batch's header.</summary>
    private const int RecordOverheadBytes = 20;
    private const int BatchHeaderBytes = 61;

    public async Task<bool> PublishAsync(IReadOnlyList<ReadingMessage> readings, CancellationToken cancellationToken)
    {
        if (readings.Count == 0)
        {
            return true;
        }

        // One send span for the batch; every message carries its context.
        var traceHeaders = new Headers();
        using var send = KafkaTracing.StartSend(producer, Topology.Topics.Readings, readings.Count, traceHeaders);
        var headerBytes = traceHeaders.Sum(h => h.Key.Length + h.GetValueBytes().Length + 2);
        admission.Produced(BatchHeaderBytes + RecordOverheadBytes + readings.Max(r => r.SensorId.Length) + ReadingEncoding.Length + headerBytes);
        var deliveries = new Task<DeliveryResult<string, byte[]>>[readings.Count];
        for (var i = 0; i < readings.Count; i++)
        {
            var headers = new Headers();
            foreach (var header in traceHeaders)
            {
                headers.Add(header.Key, header.GetValueBytes());
            }

            deliveries[i] = producer.ProduceAsync(Topology.Topics.Readings, new Message<string, byte[]>
            {
                Key = readings[i].SensorId,
                Value = ReadingEncoding.Encode(readings[i]),
                Headers = headers,
            }, CancellationToken.None);
        }

        try
        {
            // The producer's own message timeout bounds each delivery; this bounds the request as a whole.
            var delivered = await Task.WhenAll(deliveries).WaitAsync(options.DeliveryTimeout + TimeSpan.FromSeconds(2), cancellationToken);
            admission.Delivered(delivered.Select(d => d.Partition.Value));
            return true;
        }
        catch (Exception ex) when (ex is ProduceException<string, byte[]> or KafkaException or TimeoutException)
        {
            send.Fail(ex);
            return false;
        }
    }
}
