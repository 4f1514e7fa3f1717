using System.Threading.Channels;
using Kiln.AppHost.Health;
using Kiln.AppHost.Model;
using V1 = Kiln.ResourceService.V1;

namespace Kiln.AppHost.ResourceService;

/// <summary>
/// The resources as watchers see them: a current snapshot of each, and the changes since, fanned out to every watcher.
/// Any news (a state change, a replica's crash or return, a health result) marks the feed dirty; one loop then rebuilds
/// the snapshots (a few dozen small messages) and sends each watcher the resources that differ from what it was last
/// sent. A watcher holds at most <see cref="WatcherBacklog"/> undelivered updates; one that falls further behind is
/// dropped (its call ends, and watching again starts from a fresh snapshot), so no watcher ever holds up the AppHost.
/// </summary>
internal sealed class ResourceFeed : IAsyncDisposable
{
    public const int WatcherBacklog = 1000;

    private readonly DistributedApplication _app;
    private readonly ResourceHealthMonitor _health;
    private readonly IReadOnlyCollection<string> _secrets;
    private readonly Channel<bool> _dirty = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Lock _gate = new();
    private readonly List<Channel<V1.WatchResourcesChanges>> _watchers = [];
    private readonly CancellationTokenSource _ended = new();
    private readonly Task _loop;
    private Dictionary<string, V1.Resource> _current;

    public ResourceFeed(DistributedApplication app, ResourceHealthMonitor health, IReadOnlyCollection<string> secrets)
    {
        _app = app;
        _health = health;
        _secrets = secrets;
        _current = Build();
        foreach (var resource in app.Resources)
        {
            resource.StateChanged += _ => MarkDirty();
            resource.Changed += _ => MarkDirty();
        }

        health.Changed += MarkDirty;
        _loop = Task.Run(PublishAsync);
    }

    /// <summary>Ends when the feed does (the AppHost is gone): every watch call ends with it.</summary>
    public CancellationToken Ended => _ended.Token;

    /// <summary>The resource names a console-log watch or a command may name.</summary>
    public bool Has(string name)
    {
        lock (_gate)
        {
            return _current.ContainsKey(name);
        }
    }

    /// <summary>Every resource as it is now, and from then on the changes, in order: none missed, none twice.</summary>
    public (IReadOnlyList<V1.Resource> Initial, ChannelReader<V1.WatchResourcesChanges> Changes, IDisposable Subscription) Watch()
    {
        var channel = Channel.CreateBounded<V1.WatchResourcesChanges>(new BoundedChannelOptions(WatcherBacklog)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        lock (_gate)
        {
            _watchers.Add(channel);
            return ([.. _current.Values], channel.Reader, new Unwatch(this, channel));
        }
    }

    private void MarkDirty() => _dirty.Writer.TryWrite(true);

    private Dictionary<string, V1.Resource> Build() =>
        ResourceSnapshots.Build(_app, _health, _secrets).ToDictionary(r => r.Name, StringComparer.Ordinal);

    private async Task PublishAsync()
    {
        try
        {
            await foreach (var _ in _dirty.Reader.ReadAllAsync(_ended.Token))
            {
                try
                {
                    Publish();
                }
                catch (Exception ex)
                {
                    // A snapshot that cannot be built must not end the feed: the next news tries again.
                    _app.Context.SayError($"resource service: could not build the resources' snapshots: {ex.Message}");
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The feed ended.
        }
    }

    private void Publish()
    {
        var next = Build();
        lock (_gate)
        {
            var changes = new V1.WatchResourcesChanges();
            foreach (var (name, resource) in next)
            {
                if (!_current.TryGetValue(name, out var before) || !before.Equals(resource))
                {
                    changes.Value.Add(new V1.WatchResourcesChange { Upsert = resource });
                }
            }

            foreach (var (name, gone) in _current)
            {
                if (!next.ContainsKey(name))
                {
                    changes.Value.Add(new V1.WatchResourcesChange { Delete = new V1.ResourceDeletion { ResourceName = name, ResourceType = gone.ResourceType } });
                }
            }

            // Snapshots are never changed once built: every watcher is handed the same messages.
            _current = next;
            if (changes.Value.Count == 0)
            {
                return;
            }

            foreach (var watcher in _watchers.ToArray())
            {
                if (!watcher.Writer.TryWrite(changes))
                {
                    watcher.Writer.TryComplete(new WatcherFellBehindException());
                    _watchers.Remove(watcher);
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _ended.CancelAsync();
        lock (_gate)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Writer.TryComplete();
            }

            _watchers.Clear();
        }

        await _loop;
    }

    private sealed class Unwatch(ResourceFeed feed, Channel<V1.WatchResourcesChanges> channel) : IDisposable
    {
        public void Dispose()
        {
            lock (feed._gate)
            {
                feed._watchers.Remove(channel);
            }
        }
    }
}

/// <summary>A watcher had <see cref="ResourceFeed.WatcherBacklog"/> updates waiting and was dropped.</summary>
internal sealed class WatcherFellBehindException()
    : Exception($"This watcher fell {ResourceFeed.WatcherBacklog} updates behind and was dropped; watch again for a fresh snapshot.");
