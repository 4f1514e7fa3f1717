namespace Kiln.Api.RateLimits;

/// <summary>
/// A token bucket: it holds at most <see cref="Burst"/> requests and refills at <see cref="PermitsPerSecond"/>,
/// so a client may send a burst at once and then that rate for as long as it likes.
/// </summary>
internal sealed record RateLimitPolicy
{
    /// <summary>Names the policy in Redis keys, headers and logs; not configurable.</summary>
    public string Name { get; init; } = "";

    public int PermitsPerSecond { get; init; }

    public int Burst { get; init; }

    /// <summary>The time one permit takes to come back.</summary>
    public TimeSpan Interval => TimeSpan.FromTicks(TimeSpan.TicksPerSecond / PermitsPerSecond);
}

/// <summary>Section <c>Kiln:RateLimits</c>: what each bucket allows, and how long a shared decision may take.</summary>
internal sealed record RateLimitOptions
{
    public const string Section = "Kiln:RateLimits";

    /// <summary>The policy endpoints name with <see cref="RateLimitExtensions.RequireRateLimit"/>.</summary>
    public const string IngestPolicy = "ingest";

    /// <summary><c>POST /api/v1/readings</c>, per API key: a gateway posting a batch a second has room for a hundred times that.</summary>
    public RateLimitPolicy Ingest { get; init; } = new() { Name = IngestPolicy, PermitsPerSecond = 100, Burst = 200 };

    /// <summary>
    /// Requests without a valid key, per client address. Requests with a valid key count against that key instead, so
    /// gateways behind one address (a plant's NAT) do not share a bucket.
    /// </summary>
    public RateLimitPolicy Anonymous { get; init; } = new() { Name = "anonymous", PermitsPerSecond = 20, Burst = 100 };

    /// <summary>
    /// How long a decision through Redis may take before this replica decides alone. Redis answers in well under a
    /// millisecond; a request must never wait out the multiplexer's own 5 s timeout.
    /// </summary>
    public TimeSpan RedisTimeout { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The configured limits, checked: a limit that cannot work stops the Api at start, naming the setting.</summary>
    /// <exception cref="InvalidOperationException">A rate or burst below 1, or a timeout that is not positive.</exception>
    public static RateLimitOptions From(IConfiguration configuration)
    {
        var options = configuration.GetSection(Section).Get<RateLimitOptions>() ?? new RateLimitOptions();
        foreach (var (setting, policy) in new[] { ("Ingest", options.Ingest), ("Anonymous", options.Anonymous) })
        {
            if (policy.PermitsPerSecond < 1 || policy.Burst < 1)
            {
                throw new InvalidOperationException(
                    $"{Section}:{setting} allows {policy.PermitsPerSecond} requests/s in bursts of {policy.Burst}; both must be at least 1.");
            }
        }

        if (options.RedisTimeout <= TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{Section}:RedisTimeout must be positive, not {options.RedisTimeout}.");
        }

        return options;
    }
}
