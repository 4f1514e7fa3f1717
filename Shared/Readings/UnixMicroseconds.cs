namespace Kiln.Shared.Readings;

/// <summary>
/// A timestamp as whole microseconds since the Unix epoch: the precision PostgreSQL keeps, and the form a
/// reading's time takes on Kafka (<see cref="ReadingEncoding"/>) and in the cache's latest-value hash.
/// </summary>
public static class UnixMicroseconds
{
    public static long From(DateTimeOffset timestamp) =>
        (timestamp.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / TimeSpan.TicksPerMicrosecond;

    public static DateTimeOffset ToTimestamp(long microseconds) =>
        DateTimeOffset.UnixEpoch.AddTicks(microseconds * TimeSpan.TicksPerMicrosecond);
}
