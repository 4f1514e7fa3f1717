using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Kiln.Shared;
using StackExchange.Redis;

namespace Kiln.Web.Live;

/// <summary>
/// One subscription per process to the Worker's Redis channels, fanned out to every open <c>/live</c> stream.
/// Payloads pass through untouched: <c>kiln:live</c> carries each stored latest value as JSON
/// (<c>sensorId</c>, <c>timestamp</c>, <c>value</c>), <c>kiln:alerts</c> each alert transition as JSON. A slow
/// client loses its oldest updates (its buffer is bounded), never slows the others or the server.
/// </summary>
internal sealed class LiveFeed(IConnectionMultiplexer cache, ILogger<LiveFeed> logger) : IHostedService
{
    public const string ReadingEvent = "reading";
    public const string AlertEvent = "alert";
    private const int BufferPerClient = 4096;

    private readonly Lock _lock = new();
    private readonly HashSet<Channel<SseItem<string>>> _clients = [];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // The multiplexer re-subscribes by itself after a reconnect; this only registers the handlers.
        var subscriber = cache.GetSubscriber();
        await subscriber.SubscribeAsync(RedisChannel.Literal(Topology.Cache.LiveChannel), (_, message) => Broadcast(ReadingEvent, message));
        await subscriber.SubscribeAsync(RedisChannel.Literal(Topology.Cache.AlertsChannel), (_, message) => Broadcast(AlertEvent, message));
        logger.LogInformation("Live feed subscribed to {Live} and {Alerts}", Topology.Cache.LiveChannel, Topology.Cache.AlertsChannel);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public int Clients
    {
        get
        {
            lock (_lock)
            {
                return _clients.Count;
            }
        }
    }

    /// <summary>A client's stream: first a <c>ready</c> event (it is subscribed from then on), then every update until it leaves.</summary>
    public async IAsyncEnumerable<SseItem<string>> StreamAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateBounded<SseItem<string>>(
            new BoundedChannelOptions(BufferPerClient) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        lock (_lock)
        {
            _clients.Add(channel);
        }

        try
        {
            yield return new SseItem<string>("{}", "ready");
            await foreach (var item in channel.Reader.ReadAllAsync(cancellationToken))
            {
                yield return item;
            }
        }
        finally
        {
            lock (_lock)
            {
                _clients.Remove(channel);
            }
        }
    }

    private void Broadcast(string eventType, RedisValue message)
    {
        if (message.IsNullOrEmpty)
        {
            return;
        }

        var item = new SseItem<string>(message.ToString(), eventType);
        lock (_lock)
        {
            foreach (var client in _clients)
            {
                client.Writer.TryWrite(item);
            }
        }
    }
}
