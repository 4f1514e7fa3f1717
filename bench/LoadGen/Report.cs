using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kiln.LoadGen;

/// <summary>The run's figures: a table for people, and JSON in the shape bench/run documents.</summary>
internal sealed record Report(
    LoadSettings Settings, TimeSpan Elapsed, ClientResult[] Clients, long Acknowledged, long Stored, TimeSpan Drain,
    List<double> EndToEndMs, List<(double Seconds, long Lag)> Lag, List<ProcessStats> Before, List<ProcessStats> After)
{
    /// <summary>The raw limits, measured after the pipeline on the same machine.</summary>
    public Limits? Limits { get; init; }

    /// <summary>Readings acknowledged during the warm-up: not in the figures, but they must be stored too.</summary>
    public long WarmUpAcknowledged { get; init; }

    /// <summary>Every reading acknowledged, in the run and in its warm-up, is in PostgreSQL.</summary>
    public bool AllStored => Stored == Acknowledged + WarmUpAcknowledged;

    /// <summary>Readings acknowledged in each second of the run.</summary>
    public List<(double Seconds, long PerSecond)> Throughput { get; init; } = [];

    /// <summary>The per-key ingest limit the Api ran with, as its <c>RateLimit-Policy</c> header says (<c>100;w=1;burst=200;…</c>).</summary>
    public string? IngestPolicy { get; init; }

    /// <summary>How many Api replicas the clients were spread over.</summary>
    public int Replicas { get; init; } = 1;

    /// <summary>Requests answered 429: nonzero means the run measured the rate limiter, not the pipeline.</summary>
    public long Throttled => Clients.Sum(c => c.Throttled);

    /// <summary>The busiest client's requests per second; each client has a key of its own.</summary>
    private double BusiestKeyRequestsPerSecond => Clients.Length == 0 ? 0 : Clients.Max(c => c.Requests) / Elapsed.TotalSeconds;

    /// <summary>"100/s, bursts of 200" from the policy header; the header itself when it does not read that way.</summary>
    private string IngestLimit
    {
        get
        {
            if (IngestPolicy is null)
            {
                return "not reported (no answer carried RateLimit-Policy)";
            }

            var parts = IngestPolicy.Split(';');
            var burst = parts.FirstOrDefault(p => p.StartsWith("burst=", StringComparison.Ordinal))?["burst=".Length..];
            return burst is null ? IngestPolicy : $"{parts[0]}/s, bursts of {burst}";
        }
    }

    private double ReadingsPerSecond => Acknowledged / Elapsed.TotalSeconds;

    /// <summary>
    /// What the Worker stored per second during the run: what was acknowledged, less what its backlog grew by from the
    /// first lag sample to the last. A closed loop can be acknowledged faster than it is stored; this is the end-to-end rate.
    /// </summary>
    private double StoredPerSecond => Lag.Count < 2 ? ReadingsPerSecond : Math.Max(0, Acknowledged - (Lag[^1].Lag - Lag[0].Lag)) / Elapsed.TotalSeconds;

    private List<double> Latencies => [.. Clients.SelectMany(c => c.LatencyMs).Order()];

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? double.NaN : sorted[(int)Math.Min(sorted.Count - 1, p * sorted.Count)];

    /// <summary>Per resource (replicas summed): CPU seconds spent during the load, and the largest peak RSS.</summary>
    private IEnumerable<(string Resource, double CpuSeconds, double PeakRssMb)> Processes =>
        After.GroupBy(a => a.Resource).Select(g => (g.Key,
            g.Sum(a => a.CpuSeconds - (Before.FirstOrDefault(b => b.Pid == a.Pid)?.CpuSeconds ?? 0)),
            g.Max(a => a.PeakRssMb)));

    public void Print(TextWriter output)
    {
        var latencies = Latencies;
        var e2e = EndToEndMs.Order().ToList();
        var errors = Clients.SelectMany(c => c.Errors).GroupBy(e => e.Key).ToDictionary(g => g.Key, g => g.Sum(e => e.Value));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""

            pipeline ({Settings.Clients} clients, batches of {Settings.Batch}, {(Settings.Rate > 0 ? $"open loop at {Settings.Rate:N0}/s" : "closed loop")}, {Elapsed.TotalSeconds:0.0} s after {Settings.WarmUp.TotalSeconds:0} s of warm-up)
              accepted readings/s   {ReadingsPerSecond,12:N0}
              stored readings/s     {StoredPerSecond,12:N0}   the Worker's rate: acknowledged less its backlog's growth
              acknowledged          {Acknowledged,12:N0}
              refused (503)         {Clients.Sum(c => c.Refused),12:N0}
              throttled (429)       {Throttled,12:N0}   requests{(Throttled > 0 ? "  THE RATE LIMIT THROTTLED THIS RUN: raise it with bench/run --ingest-limit" : "")}
              stored                {Stored,12:N0}   {(AllStored ? "= acknowledged" : "MISSING " + (Acknowledged + WarmUpAcknowledged - Stored).ToString("N0", CultureInfo.InvariantCulture))} (+ {WarmUpAcknowledged:N0} of the warm-up), all {Drain.TotalSeconds:0.0} s after the load
              api latency ms        p50 {Percentile(latencies, 0.50):0.0}  p95 {Percentile(latencies, 0.95):0.0}  p99 {Percentile(latencies, 0.99):0.0}
              POST→readable ms      p50 {Percentile(e2e, 0.50):0}  p99 {Percentile(e2e, 0.99):0}  ({e2e.Count} samples)
              worker lag, max       {(Lag.Count == 0 ? 0 : Lag.Max(l => l.Lag)),12:N0} readings
              errors                {(errors.Count == 0 ? "none" : string.Join(", ", errors.Select(e => $"{e.Key} × {e.Value}")))}
              ingest rate limit     {IngestLimit} per key; {Clients.Length} keys, one per client, over {Replicas} Api replicas; busiest key {BusiestKeyRequestsPerSecond:0.0} requests/s
            """));
        if (Limits is { } limits)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
                limits (same machine, same run, {5} s each)
                  PostgreSQL COPY rows/s          {limits.PostgresCopyRowsPerSecond,12:N0}   pipeline / COPY    {ReadingsPerSecond / limits.PostgresCopyRowsPerSecond:0.00}   stored / COPY {StoredPerSecond / limits.PostgresCopyRowsPerSecond:0.00}
                  produce (acks=all) messages/s   {limits.KafkaProduceMessagesPerSecond,12:N0}   pipeline / produce {ReadingsPerSecond / limits.KafkaProduceMessagesPerSecond:0.00}
                  Kestrel requests/s              {limits.HttpRequestsPerSecond,12:N0}   ({limits.HttpRequestsPerSecond * Settings.Batch:N0} readings/s of bodies)
                """));
        }

        output.WriteLine("  process            cpu s   peak RSS MB");
        foreach (var (resource, cpu, rss) in Processes.OrderBy(p => p.Resource, StringComparer.Ordinal))
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {resource,-16} {cpu,7:0.0}   {rss,11:0}"));
        }
    }

    public async Task WriteJsonAsync(string path)
    {
        var latencies = Latencies;
        var e2e = EndToEndMs.Order().ToList();
        var json = new JsonObject
        {
            ["machine"] = new JsonObject
            {
                ["cores"] = Environment.ProcessorCount,
                ["memoryMb"] = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024 * 1024),
                ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            },
            ["pipeline"] = new JsonObject
            {
                ["readingsPerSecond"] = Math.Round(ReadingsPerSecond),
                ["storedPerSecond"] = Math.Round(StoredPerSecond),
                ["acknowledged"] = Acknowledged,
                ["refused"] = Clients.Sum(c => c.Refused),
                ["throttledRequests"] = Throttled,
                ["rateLimit"] = new JsonObject
                {
                    ["ingestPolicy"] = IngestPolicy,
                    ["keys"] = Clients.Length,
                    ["apiReplicas"] = Replicas,
                    ["busiestKeyRequestsPerSecond"] = Math.Round(BusiestKeyRequestsPerSecond, 1),
                },
                ["stored"] = Stored,
                ["warmUpSeconds"] = Settings.WarmUp.TotalSeconds,
                ["warmUpAcknowledged"] = WarmUpAcknowledged,
                ["apiLatencyMs"] = new JsonObject { ["p50"] = Percentile(latencies, 0.5), ["p95"] = Percentile(latencies, 0.95), ["p99"] = Percentile(latencies, 0.99) },
                ["endToEndMs"] = new JsonObject { ["p50"] = Percentile(e2e, 0.5), ["p99"] = Percentile(e2e, 0.99) },
                ["peakRssMb"] = new JsonObject(Processes.Select(p => KeyValuePair.Create(p.Resource, (JsonNode?)Math.Round(p.PeakRssMb)))),
                ["cpuSeconds"] = new JsonObject(Processes.Select(p => KeyValuePair.Create(p.Resource, (JsonNode?)Math.Round(p.CpuSeconds, 1)))),
                ["lag"] = new JsonArray([.. Lag.Select(l => (JsonNode)new JsonArray(Math.Round(l.Seconds, 1), l.Lag))]),
            },
        };
        if (Limits is { } limits)
        {
            json["limits"] = new JsonObject
            {
                ["postgresCopyRowsPerSecond"] = Math.Round(limits.PostgresCopyRowsPerSecond),
                ["kafkaProduceMessagesPerSecond"] = Math.Round(limits.KafkaProduceMessagesPerSecond),
                ["httpRequestsPerSecond"] = Math.Round(limits.HttpRequestsPerSecond),
            };
            json["ratios"] = new JsonObject
            {
                ["pipelineToCopy"] = Math.Round(ReadingsPerSecond / limits.PostgresCopyRowsPerSecond, 3),
                ["storedToCopy"] = Math.Round(StoredPerSecond / limits.PostgresCopyRowsPerSecond, 3),
                ["pipelineToProduce"] = Math.Round(ReadingsPerSecond / limits.KafkaProduceMessagesPerSecond, 3),
            };
        }

        json["pipeline"]!["throughput"] = new JsonArray([.. Throughput.Select(t => (JsonNode)new JsonArray(Math.Round(t.Seconds, 1), t.PerSecond))]);
        await File.WriteAllTextAsync(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        await File.WriteAllTextAsync(Path.ChangeExtension(path, ".svg"), Chart());
    }

    /// <summary>Throughput (readings/s, left axis) and the Worker's lag (readings, right axis) over the run, as SVG.</summary>
    private string Chart()
    {
        const int Width = 800, Height = 320, Left = 70, Right = 70, Top = 30, Bottom = 40;
        var seconds = Math.Max(1, Elapsed.TotalSeconds);
        var maxRate = Math.Max(1, Throughput.Count == 0 ? 1 : Throughput.Max(t => t.PerSecond));
        var maxLag = Math.Max(1, Lag.Count == 0 ? 1 : Lag.Max(l => l.Lag));
        string X(double s) => (Left + (s / seconds * (Width - Left - Right))).ToString("0.0", CultureInfo.InvariantCulture);
        string Y(double value, double max) => (Top + ((1 - (value / max)) * (Height - Top - Bottom))).ToString("0.0", CultureInfo.InvariantCulture);
        string Line(IEnumerable<(double S, double V)> points, double max) => string.Join(" ", points.Select(p => $"{X(p.S)},{Y(p.V, max)}"));
        var rate = Line(Throughput.Select(t => (t.Seconds, (double)t.PerSecond)), maxRate);
        var lag = Line(Lag.Select(l => (l.Seconds, (double)l.Lag)), maxLag);
        return string.Create(CultureInfo.InvariantCulture, $"""
            <svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{Height}" font-family="sans-serif" font-size="12">
              <title>Kiln bench: {ReadingsPerSecond:N0} readings/s accepted over {seconds:0} s; Worker lag</title>
              <rect width="100%" height="100%" fill="white"/>
              <line x1="{Left}" y1="{Height - Bottom}" x2="{Width - Right}" y2="{Height - Bottom}" stroke="#888"/>
              <line x1="{Left}" y1="{Top}" x2="{Left}" y2="{Height - Bottom}" stroke="#888"/>
              <line x1="{Width - Right}" y1="{Top}" x2="{Width - Right}" y2="{Height - Bottom}" stroke="#888"/>
              <text x="{Left - 6}" y="{Top + 4}" text-anchor="end" fill="#1f77b4">{maxRate:N0}</text>
              <text x="{Left - 6}" y="{Height - Bottom}" text-anchor="end" fill="#1f77b4">0</text>
              <text x="{Width - Right + 6}" y="{Top + 4}" fill="#d62728">{maxLag:N0}</text>
              <text x="{Width - Right + 6}" y="{Height - Bottom}" fill="#d62728">0</text>
              <text x="{Left}" y="{Height - 12}">0 s</text>
              <text x="{Width - Right}" y="{Height - 12}" text-anchor="end">{seconds:0} s</text>
              <text x="{Left}" y="18" fill="#1f77b4">readings/s accepted</text>
              <text x="{Width - Right}" y="18" text-anchor="end" fill="#d62728">Worker lag (readings)</text>
              <polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{rate}"/>
              <polyline fill="none" stroke="#d62728" stroke-width="2" points="{lag}"/>
            </svg>
            """);
    }
}
