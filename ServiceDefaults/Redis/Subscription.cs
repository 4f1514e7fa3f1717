namespace Kiln.ServiceDefaults.Redis;

/// <summary>One handler on one channel or pattern; disposing it unsubscribes that handler.</summary>
internal sealed class Subscription(SubscriptionTarget target, Func<string, string, Task> handler, PubSubConnection owner)
    : IAsyncDisposable
{
    private int _disposed;

    public SubscriptionTarget Target { get; } = target;

    public Func<string, string, Task> Handler { get; } = handler;

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public ValueTask DisposeAsync() =>
        Interlocked.Exchange(ref _disposed, 1) == 0 ? owner.UnsubscribeAsync(this) : ValueTask.CompletedTask;
}
