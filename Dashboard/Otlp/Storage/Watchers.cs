using System.Threading.Channels;

namespace Kiln.Dashboard.Otlp.Storage;

/// <summary>
/// The readers following one signal live: each gets what it selects through its own bounded channel (1,000 items,
/// oldest dropped when full), so a slow reader costs a fixed amount of memory and never slows a receiver.
/// </summary>
internal sealed class Watchers<T> where T : class
{
    public const int Capacity = 1_000;

    private readonly Lock _gate = new();
    private readonly List<(Func<T, bool> Selects, Channel<T> Channel)> _watchers = [];

    public bool Any
    {
        get
        {
            lock (_gate)
            {
                return _watchers.Count > 0;
            }
        }
    }

    public void Publish(IReadOnlyList<T> items)
    {
        lock (_gate)
        {
            foreach (var (selects, channel) in _watchers)
            {
                foreach (var item in items)
                {
                    if (selects(item))
                    {
                        channel.Writer.TryWrite(item);
                    }
                }
            }
        }
    }

    /// <summary>What is stored now (<paramref name="snapshot"/>; none when null), then what arrives, each item once.</summary>
    public async IAsyncEnumerable<T> WatchAsync(Func<T, bool> selects, Func<IReadOnlyList<T>>? snapshot,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<T>(new BoundedChannelOptions(Capacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        var entry = (selects, channel);
        lock (_gate)
        {
            _watchers.Add(entry);
        }

        try
        {
            // Registered before the snapshot is taken, so nothing falls between; what is in both is given once.
            var initial = snapshot?.Invoke() ?? [];
            var seen = new HashSet<T>(initial, ReferenceEqualityComparer.Instance);
            foreach (var item in initial)
            {
                yield return item;
            }

            await foreach (var item in channel.Reader.ReadAllAsync(cancellationToken))
            {
                if (seen.Count == 0 || !seen.Remove(item))
                {
                    yield return item;
                }
            }
        }
        finally
        {
            lock (_gate)
            {
                _watchers.Remove(entry);
            }

            channel.Writer.TryComplete();
        }
    }
}
