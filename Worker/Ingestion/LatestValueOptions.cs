namespace Kiln.Worker.Ingestion;

/// <summary>How the Worker keeps latest values in Redis without letting Redis hold up storage (section <c>Kiln:LatestValues</c>).</summary>
internal sealed record LatestValueOptions
{
    /// <summary>
    /// How long a stored batch waits for Redis before its sensors are marked stale and the batch is committed anyway.
    /// Redis answers a batch in milliseconds; this only bounds a Redis that hangs.
    /// </summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How many stale sensors are remembered by name; past that, every sensor is repaired.</summary>
    public int StaleSensorCapacity { get; init; } = 100_000;

    /// <summary>How many sensors one repair step reads from PostgreSQL and writes to Redis.</summary>
    public int RepairChunkSize { get; init; } = 500;

    /// <summary>How often the repair loop looks whether Redis is back.</summary>
    public TimeSpan RepairPollInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    public static LatestValueOptions From(IConfiguration configuration) =>
        configuration.GetSection("Kiln:LatestValues").Get<LatestValueOptions>() ?? new LatestValueOptions();
}
