using Microsoft.Extensions.Options;

namespace Kiln.Worker.Retention;

/// <summary>How long the Worker keeps what it stores, and how it deletes the rest (section <c>Kiln:Retention</c>).</summary>
internal sealed class RetentionOptions
{
    public const string Section = "Kiln:Retention";

    /// <summary>Raw readings older than this are deleted.</summary>
    public TimeSpan Readings { get; set; } = TimeSpan.FromDays(35);

    /// <summary>One-minute rollups older than this are deleted; at least <see cref="Readings"/>, so a chart outlives the raw data.</summary>
    public TimeSpan Rollups { get; set; } = TimeSpan.FromDays(400);

    /// <summary>At most this many rows are deleted in one statement (one short transaction).</summary>
    public int BatchSize { get; set; } = 5000;

    /// <summary>The pause after each full batch, which leaves the database to ingest meanwhile.</summary>
    public TimeSpan PauseBetweenBatches { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How long after the Worker starts the first pass runs.</summary>
    public TimeSpan FirstPassAfter { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The time between passes.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>Refuses settings that would delete what must be kept or never finish, each with its reason, when the Worker starts.</summary>
internal sealed class RetentionOptionsValidation : IValidateOptions<RetentionOptions>
{
    /// <summary>
    /// The shortest retention of raw readings. A reading deleted while Kafka may still redeliver it would be stored and
    /// counted in its rollup again; redelivery happens within minutes, so an hour leaves a wide margin.
    /// </summary>
    public static readonly TimeSpan MinReadings = TimeSpan.FromHours(1);

    public const int MaxBatchSize = 100_000;

    public ValidateOptionsResult Validate(string? name, RetentionOptions options)
    {
        List<string> problems = [];
        if (options.Readings < MinReadings)
        {
            problems.Add($"{RetentionOptions.Section}:Readings must be at least {MinReadings} (it is {options.Readings})");
        }

        if (options.Rollups < options.Readings)
        {
            problems.Add($"{RetentionOptions.Section}:Rollups ({options.Rollups}) must be at least {RetentionOptions.Section}:Readings ({options.Readings})");
        }

        if (options.BatchSize is < 1 or > MaxBatchSize)
        {
            problems.Add($"{RetentionOptions.Section}:BatchSize must be from 1 to {MaxBatchSize} (it is {options.BatchSize})");
        }

        if (options.PauseBetweenBatches < TimeSpan.Zero || options.PauseBetweenBatches > TimeSpan.FromMinutes(1))
        {
            problems.Add($"{RetentionOptions.Section}:PauseBetweenBatches must be from 0 to 1 minute (it is {options.PauseBetweenBatches})");
        }

        if (options.FirstPassAfter < TimeSpan.Zero)
        {
            problems.Add($"{RetentionOptions.Section}:FirstPassAfter must not be negative (it is {options.FirstPassAfter})");
        }

        if (options.Interval < TimeSpan.FromSeconds(1))
        {
            problems.Add($"{RetentionOptions.Section}:Interval must be at least 1 second (it is {options.Interval})");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
