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

        // One send span for the batch; every message carries its context (the producer copies the headers per message).
        var headers = new Headers();
        using var send = KafkaTracing.StartSend(producer, Topology.Topics.Readings, readings.Count, headers);
        var headerBytes = headers.Sum(h => h.Key.Length + h.GetValueBytes().Length + 2);
        admission.Produced(BatchHeaderBytes + RecordOverheadBytes + readings.Max(r => r.SensorId.Length) + ReadingEncoding.Length + headerBytes);

        // One completion for the whole request, not a task per message: each of those would cost a thread-pool hop.
        var deliveries = new Deliveries(readings.Count, admission);
        try
        {
            for (var i = 0; i < readings.Count; i++)
            {
                producer.Produce(Topology.Topics.Readings, new Message<string, byte[]>
                {
                    Key = readings[i].SensorId,
                    Value = ReadingEncoding.Encode(readings[i]),
                    Headers = headers,
                }, deliveries.Report);
            }
        }
        catch (Exception ex) when (ex is ProduceException<string, byte[]> or KafkaException)
        {
            // The producer's queue refused the rest; what it took is delivered (or not) all the same, and the client's retry is deduplicated.
            send.Fail(ex);
            return false;
        }

        try
        {
            // The producer's own message timeout bounds each delivery; this bounds the request as a whole.
            if (await deliveries.Completion.WaitAsync(options.DeliveryTimeout + TimeSpan.FromSeconds(2), cancellationToken) is { } error)
            {
                send.Fail(new KafkaException(error));
                return false;
            }

            return true;
        }
        catch (TimeoutException ex)
        {
            send.Fail(ex);
            return false;
        }
    }

    /// <summary>Counts a request's delivery reports (on the producer's poll thread) down to one result: null, or the first error.</summary>
    private sealed class Deliveries(int count, IngestAdmission admission)
    {
        private readonly TaskCompletionSource<Error?> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _outstanding = count;
        private Error? _error;

        public Task<Error?> Completion => _completion.Task;

        public void Report(DeliveryReport<string, byte[]> report)
        {
            if (report.Error.IsError)
            {
                Interlocked.CompareExchange(ref _error, report.Error, null);
            }
            else
            {
                admission.Delivered(report.Partition.Value);
            }

            if (Interlocked.Decrement(ref _outstanding) == 0)
            {
                _completion.SetResult(Volatile.Read(ref _error));
            }
        }
    }
}
