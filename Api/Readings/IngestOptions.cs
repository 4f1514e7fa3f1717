namespace Kiln.Api.Readings;

/// <summary>Bounds on what one ingest request may carry (section <c>Kiln:Ingest</c>).</summary>
internal sealed record IngestOptions
{
    public int MaxBatchSize { get; init; } = 5000;

    /// <summary>How far a device clock may run ahead of ours.</summary>
    public TimeSpan MaxFutureSkew { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How old a reading may be and still be accepted.</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromDays(30);

    /// <summary>How long a request waits for Kafka's acknowledgement before answering 503.</summary>
    public TimeSpan DeliveryTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How much the broker may hold for the Worker before ingest is refused.</summary>
    public BacklogOptions Backlog { get; init; } = new();

    public static IngestOptions From(IConfiguration configuration) =>
        configuration.GetSection("Kiln:Ingest").Get<IngestOptions>() ?? new IngestOptions();
}
