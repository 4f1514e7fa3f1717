using Confluent.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Kiln.Worker.Ingestion;

/// <summary>
/// Tracks the partitions this replica holds. The Worker reports ready only once it has joined its
/// consumer group and been given its share, so "every resource healthy" means a posted reading will
/// be consumed.
/// </summary>
internal sealed class PartitionAssignment : IHealthCheck
{
    private readonly Lock _gate = new();
    private List<TopicPartition> _partitions = [];
    private HashSet<TopicPartition> _rewind = [];
    private bool _joined;

    /// <summary>The partitions this replica holds now.</summary>
    public IReadOnlyList<TopicPartition> Held
    {
        get
        {
            lock (_gate)
            {
                return _partitions;
            }
        }
    }

    public void Attach<TKey, TValue>(ConsumerBuilder<TKey, TValue> consumer)
    {
        consumer.SetPartitionsAssignedHandler((_, assigned) =>
        {
            lock (_gate)
            {
                _partitions = [.. _partitions.Union(assigned)];
                _joined = true;
                return assigned.Select(p => new TopicPartitionOffset(p, _rewind.Contains(p) ? Offset.Beginning : Offset.Unset)).ToList();
            }
        });
        // The cooperative protocol hands out and takes back partitions a few at a time.
        consumer.SetPartitionsRevokedHandler((_, revoked) => Remove(revoked.Select(p => p.TopicPartition)));
        consumer.SetPartitionsLostHandler((_, lost) => Remove(lost.Select(p => p.TopicPartition)));
    }

    /// <summary>
    /// After the broker lost its log: each of these partitions, whenever this replica is given it, starts at the
    /// beginning of the new log until this replica has committed there itself. A commit from before the loss can
    /// still reach the new broker (librdkafka retries one that was in flight), and its offset would skip what the
    /// new log starts with; storing again is harmless.
    /// </summary>
    public void RewindOnAssignment(IEnumerable<TopicPartition> partitions)
    {
        lock (_gate)
        {
            _rewind = [.. partitions];
        }
    }

    /// <summary>This replica committed on these partitions after reading them from the new log: their committed offsets hold again.</summary>
    public void Committed(IEnumerable<TopicPartition> partitions)
    {
        lock (_gate)
        {
            if (_rewind.Count > 0)
            {
                _rewind.ExceptWith(partitions);
            }
        }
    }

    private void Remove(IEnumerable<TopicPartition> partitions)
    {
        lock (_gate)
        {
            _partitions = [.. _partitions.Except(partitions)];
        }
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var held = _partitions.Count == 0 ? "none" : string.Join(",", _partitions.Select(p => $"{p.Topic}[{p.Partition.Value}]"));
            return Task.FromResult(_joined
                ? HealthCheckResult.Healthy($"partitions: {held}")
                : HealthCheckResult.Unhealthy("has not joined the consumer group yet"));
        }
    }
}
