namespace Kiln.Simulator.Feeding;

/// <summary>
/// When to try the Api again after it could not take a request: 1 s after the first failure, doubling to 30 s, or later if
/// the Api said so (<c>Retry-After</c>); at once again after a success. It also tells when an outage starts and how long it
/// lasted, so that each is logged once. Pure: times in, decisions out.
/// </summary>
internal sealed class ApiBackoff
{
    public static readonly TimeSpan First = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan Max = TimeSpan.FromSeconds(30);

    /// <summary>The current wait between attempts; zero while the Api answers.</summary>
    public TimeSpan Current { get; private set; }

    public DateTimeOffset RetryAt { get; private set; } = DateTimeOffset.MinValue;

    /// <summary>When the first request that failed was sent, while the Api stays away.</summary>
    public DateTimeOffset? DownSince { get; private set; }

    public bool MaySend(DateTimeOffset now) => now >= RetryAt;

    /// <summary>A request sent at <paramref name="sent"/> failed at <paramref name="now"/>.</summary>
    /// <returns>True when this failure starts an outage.</returns>
    public bool Failed(DateTimeOffset sent, DateTimeOffset now, TimeSpan? retryAfter = null)
    {
        var starts = DownSince is null;
        DownSince ??= sent;
        Current = Current == TimeSpan.Zero ? First : (Current * 2 < Max ? Current * 2 : Max);
        RetryAt = now + (retryAfter is { } asked && asked > Current ? asked : Current);
        return starts;
    }

    /// <returns>How long the Api was away, when this success ends an outage; else null.</returns>
    public TimeSpan? Succeeded(DateTimeOffset now)
    {
        var lasted = DownSince is { } since ? now - since : (TimeSpan?)null;
        DownSince = null;
        Current = TimeSpan.Zero;
        RetryAt = DateTimeOffset.MinValue;
        return lasted;
    }
}
