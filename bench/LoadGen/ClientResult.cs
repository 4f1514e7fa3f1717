using System.Net;

namespace Kiln.LoadGen;

/// <summary>What one client saw: readings acknowledged, requests refused or failed by kind, and every request's latency.</summary>
internal sealed class ClientResult
{
    public long Acknowledged { get; private set; }

    public long Refused { get; private set; }

    public Dictionary<string, long> Errors { get; } = [];

    public List<double> LatencyMs { get; } = [];

    public void Record(HttpStatusCode status, int readings, double latencyMs)
    {
        LatencyMs.Add(latencyMs);
        if (status == HttpStatusCode.Accepted)
        {
            Acknowledged += readings;
        }
        else if (status == HttpStatusCode.ServiceUnavailable)
        {
            Refused += readings;
        }
        else
        {
            Failed($"HTTP {(int)status}");
        }
    }

    public void Failed(string kind) => Errors[kind] = Errors.GetValueOrDefault(kind) + 1;
}
