using System.Text.Json.Serialization;
using Kiln.Shared.Readings;
using Kiln.Shared.Sensors;

namespace Kiln.Api.Readings;

/// <summary>
/// One item of an ingest batch as the device sent it: every field may be missing, and <see cref="Problem"/>
/// says why the item could not be read as a reading at all (a field of the wrong type or format).
/// </summary>
[JsonConverter(typeof(ReadingInputConverter))]
internal sealed record ReadingInput(string? SensorId, DateTimeOffset? Timestamp, double? Value, string? Problem = null);

internal sealed record ReadingBatch(IReadOnlyList<ReadingInput?>? Readings);

internal sealed record RejectedReading(int Index, string Reason);

/// <summary>
/// Decides, without I/O, which items of a batch are accepted. Timestamps are truncated to the
/// microsecond, the precision PostgreSQL stores, so (sensor, timestamp) identifies a reading the same
/// way on the wire, in Kafka and in the database; a second item with the identity of an accepted one
/// would be stored as one reading, so it is rejected as that one's duplicate rather than counted twice.
/// </summary>
internal static class ReadingValidator
{
    public static (List<ReadingMessage> Accepted, List<RejectedReading> Rejected) Validate(
        IReadOnlyList<ReadingInput?> items, IReadOnlyDictionary<string, string> sensorSites, string? keySite,
        DateTimeOffset now, IngestOptions options)
    {
        var accepted = new List<ReadingMessage>(items.Count);
        var rejected = new List<RejectedReading>();
        var firstIndexOf = new Dictionary<(string SensorId, DateTimeOffset Timestamp), int>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            if (Reason(items[i], sensorSites, keySite, now, options) is { } reason)
            {
                rejected.Add(new RejectedReading(i, reason));
                continue;
            }

            var item = items[i]!;
            var reading = new ReadingMessage(item.SensorId!, TruncateToMicroseconds(item.Timestamp!.Value), item.Value!.Value);
            if (firstIndexOf.TryGetValue((reading.SensorId, reading.Timestamp), out var first))
            {
                rejected.Add(new RejectedReading(i, $"duplicate of item {first}: the same sensorId and timestamp identify one reading"));
                continue;
            }

            firstIndexOf.Add((reading.SensorId, reading.Timestamp), i);
            accepted.Add(reading);
        }

        return (accepted, rejected);
    }

    private static string? Reason(ReadingInput? item, IReadOnlyDictionary<string, string> sensorSites, string? keySite,
        DateTimeOffset now, IngestOptions options)
    {
        if (item is null)
        {
            return "a reading must be a JSON object, not null";
        }

        if (item.Problem is { } problem)
        {
            return problem;
        }

        if (SensorId.Validate(item.SensorId) is { } idProblem)
        {
            return idProblem;
        }

        if (!sensorSites.TryGetValue(item.SensorId!, out var site))
        {
            return $"unknown sensor '{item.SensorId}'";
        }

        if (keySite is not null && site != keySite)
        {
            return $"sensor '{item.SensorId}' belongs to site '{site}', not to this key's site '{keySite}'";
        }

        if (item.Timestamp is not { } timestamp)
        {
            return "timestamp is required";
        }

        if (timestamp > now + options.MaxFutureSkew)
        {
            return $"timestamp is more than {options.MaxFutureSkew.TotalMinutes:0} minutes in the future";
        }

        if (timestamp < now - options.MaxAge)
        {
            return $"timestamp is older than {options.MaxAge.TotalDays:0} days";
        }

        if (item.Value is not { } value)
        {
            return "value is required";
        }

        if (!double.IsFinite(value))
        {
            return "value must be a finite number";
        }

        return null;
    }

    public static DateTimeOffset TruncateToMicroseconds(DateTimeOffset timestamp) =>
        new(timestamp.UtcTicks - (timestamp.UtcTicks % 10), TimeSpan.Zero);
}
