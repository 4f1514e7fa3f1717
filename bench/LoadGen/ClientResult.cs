using System.Net;

namespace Kiln.LoadGen;

/// <summary>What one client saw: readings acknowledged, requests refused, throttled or failed by kind, and every request's latency.</summary>
/// <remarks>An open-loop client records from several requests at once, hence the lock.</remarks>
internal sealed class ClientResult
{
    private static long _acknowledgedByAll;
    private readonly Lock _gate = new();

    /// <summary>Readings acknowledged to every client so far: the throughput series is sampled from it.</summary>
    public static long AcknowledgedByAll => Interlocked.Read(ref _acknowledgedByAll);

    public long Acknowledged { get; private set; }

    public long Refused { get; private set; }

    /// <summary>Requests answered 429: the client's key went past its rate limit, so the run measured the limiter too.</summary>
    public long Throttled { get; private set; }

    public long Requests { get; private set; }

    public Dictionary<string, long> Errors { get; } = [];

    public List<double> LatencyMs { get; } = [];

    public void Record(HttpStatusCode status, int readings, double latencyMs)
    {
        lock (_gate)
        {
            RecordLocked(status, readings, latencyMs);
        }
    }

    public void Failed(string kind)
    {
        lock (_gate)
        {
            Errors[kind] = Errors.GetValueOrDefault(kind) + 1;
        }
    }

    private void RecordLocked(HttpStatusCode status, int readings, double latencyMs)
    {
        LatencyMs.Add(latencyMs);
        Requests++;
        if (status == HttpStatusCode.Accepted)
        {
            Acknowledged += readings;
            Interlocked.Add(ref _acknowledgedByAll, readings);
        }
        else if (status == HttpStatusCode.ServiceUnavailable)
        {
            Refused += readings;
        }
        else if (status == HttpStatusCode.TooManyRequests)
        {
            Throttled++;
        }
        else
        {
            Errors[$"HTTP {(int)status}"] = Errors.GetValueOrDefault($"HTTP {(int)status}") + 1;
        }
    }
}
