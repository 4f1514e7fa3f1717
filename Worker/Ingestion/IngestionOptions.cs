namespace Kiln.Worker.Ingestion;

/// <summary>How the Worker batches (section <c>Kiln:Ingestion</c>).</summary>
internal sealed record IngestionOptions
{
    /// <summary>At most this many messages are written in one database transaction.</summary>
    public int MaxBatchSize { get; init; } = 5000;

    /// <summary>After the first message of a batch, how long to wait for more before writing.</summary>
    public TimeSpan BatchWindow { get; init; } = TimeSpan.FromMilliseconds(20);

    public static IngestionOptions From(IConfiguration configuration) =>
        configuration.GetSection("Kiln:Ingestion").Get<IngestionOptions>() ?? new IngestionOptions();
}
