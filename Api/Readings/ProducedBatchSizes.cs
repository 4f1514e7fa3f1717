using System.Text.Json;
using Kiln.Shared;

namespace Kiln.Api.Readings;

/// <summary>
/// What the broker really stores per reading: librdkafka's statistics (once a second) carry the size in
/// bytes, compressed, and the message count of every record batch the producer sent to a topic. The
/// development broker keeps those batches as they came, so their bytes per message, at the worst of the
/// last minute, is what a partition's room is measured in.
/// </summary>
internal sealed class ProducedBatchSizes
{
    public const int StatisticsIntervalMs = 1000;
    private static readonly TimeSpan Horizon = TimeSpan.FromMinutes(1);

    private readonly Lock _gate = new();
    private readonly Queue<(DateTimeOffset At, double BytesPerMessage, double MessagesPerBatch)> _windows = new();

    /// <summary>The most bytes per message and the fewest messages per batch seen in the last minute, or null before the first batch.</summary>
    public (double BytesPerMessage, double MessagesPerBatch)? Worst
    {
        get
        {
            lock (_gate)
            {
                return _windows.Count == 0 ? null : (_windows.Max(w => w.BytesPerMessage), _windows.Min(w => w.MessagesPerBatch));
            }
        }
    }

    /// <summary>Takes one statistics report (librdkafka's JSON); windows without a batch to the readings topic are skipped.</summary>
    public void Update(string statistics)
    {
        using var document = JsonDocument.Parse(statistics);
        if (!document.RootElement.TryGetProperty("topics", out var topics) || !topics.TryGetProperty(Topology.Topics.Readings, out var topic))
        {
            return;
        }

        var bytes = topic.GetProperty("batchsize").GetProperty("sum").GetInt64();
        var messages = topic.GetProperty("batchcnt").GetProperty("sum").GetInt64();
        var batches = topic.GetProperty("batchcnt").GetProperty("cnt").GetInt64();
        if (messages == 0 || batches == 0)
        {
            return;
        }

        var now = DateTimeOffset.UtcNow;
        lock (_gate)
        {
            _windows.Enqueue((now, (double)bytes / messages, (double)messages / batches));
            while (_windows.Peek().At < now - Horizon)
            {
                _windows.Dequeue();
            }
        }
    }
}
