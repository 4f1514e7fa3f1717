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
            }
        });
        // The cooperative protocol hands out and takes back partitions a few at a time.
        consumer.SetPartitionsRevokedHandler((_, revoked) => Remove(revoked.Select(p => p.TopicPartition)));
        consumer.SetPartitionsLostHandler((_, lost) => Remove(lost.Select(p => p.TopicPartition)));
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
