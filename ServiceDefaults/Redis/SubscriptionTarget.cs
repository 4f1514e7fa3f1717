namespace Kiln.ServiceDefaults.Redis;

/// <summary>A channel name, or a glob pattern when <see cref="IsPattern"/> (PSUBSCRIBE).</summary>
internal readonly record struct SubscriptionTarget(string Name, bool IsPattern)
{
    public string SubscribeCommand => IsPattern ? "PSUBSCRIBE" : "SUBSCRIBE";

    public string UnsubscribeCommand => IsPattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE";

    public override string ToString() => IsPattern ? $"pattern '{Name}'" : $"channel '{Name}'";
}
