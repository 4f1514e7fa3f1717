using System.Diagnostics;
using System.Text.Json;
using Confluent.Kafka;
using Kiln.ServiceDefaults.Kafka;

namespace Kiln.KafkaBench;

/// <summary>
/// Produce latency at a given offered rate, as the Api's ingest sees it: requests of <c>batch</c> messages (17-byte
/// values, keys from a fleet of sensors) started on a fixed schedule whether or not earlier ones have finished, each
/// timed from when it was due until its last delivery report. librdkafka's own view of the same seconds (its queue,
/// output buffer and round-trip latencies, from the statistics) is printed beside it, so a slow answer can be placed.
/// </summary>
internal static class OpenLoop
{
    public static async Task RunAsync(string bootstrap, string topic, int rate, int batch, int seconds, int sensors, int lingerMs, int producers)
    {
        var stats = new List<JsonElement>();
        var clients = Enumerable.Range(0, producers).Select(_ =>
        {
            var config = KafkaClientDefaults.Producer();
            config.BootstrapServers = bootstrap;
            config.LingerMs = lingerMs;
            config.StatisticsIntervalMs = 1000;
            return new ProducerBuilder<string, byte[]>(config)
                .SetStatisticsHandler((_, json) =>
                {
                    lock (stats)
                    {
                        stats.Add(JsonDocument.Parse(json).RootElement.Clone());
                    }
                })
                .Build();
        }).ToList();

        var value = new byte[17];
        var keys = Enumerable.Range(0, sensors).Select(i => $"site{i % 20}.sensor{i}").ToArray();
        var interval = TimeSpan.FromSeconds((double)batch / rate);
        var times = new List<double>();
        var pending = new List<Task>();
        var clock = Stopwatch.StartNew();
        var next = 0;
        for (var due = TimeSpan.Zero; due < TimeSpan.FromSeconds(seconds); due += interval)
        {
            if (clock.Elapsed < due)
            {
                await Task.Delay(due - clock.Elapsed);
            }

            var producer = clients[next++ % clients.Count];
            var dueAt = due;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var outstanding = batch;
            for (var i = 0; i < batch; i++)
            {
                producer.Produce(topic, new Message<string, byte[]> { Key = keys[Random.Shared.Next(keys.Length)], Value = value }, _ =>
                {
                    if (Interlocked.Decrement(ref outstanding) == 0)
                    {
                        done.SetResult();
                    }
                });
            }

            pending.Add(done.Task.ContinueWith(_ =>
            {
                lock (times)
                {
                    times.Add((clock.Elapsed - dueAt).TotalMilliseconds);
                }
            }, TaskScheduler.Default));
        }

        await Task.WhenAll(pending);
        foreach (var client in clients)
        {
            client.Dispose();
        }

        times.Sort();
        double P(double q) => times[(int)(q * (times.Count - 1))];
        Console.WriteLine($"open loop {rate:N0} msg/s in batches of {batch}, linger {lingerMs} ms, {producers} producer(s), {sensors:N0} keys, {seconds} s: " +
            $"request p50 {P(0.5):0.0} ms, p95 {P(0.95):0.0} ms, p99 {P(0.99):0.0} ms, max {times[^1]:0.0} ms over {times.Count:N0}");

        // The broker's view, averaged over the run's statistics (microseconds in librdkafka's JSON).
        string Window(string name) => Describe(stats.SelectMany(s => Brokers(s)).Select(b => b.GetProperty(name)));
        Console.WriteLine($"  librdkafka: queue (int_latency) {Window("int_latency")}; output buffer (outbuf_latency) {Window("outbuf_latency")}; rtt {Window("rtt")}");
        var requests = stats.SelectMany(s => Brokers(s)).Select(b => b.GetProperty("tx").GetInt64()).DefaultIfEmpty().Max();
        Console.WriteLine($"  produce requests sent (last statistics, per producer): {requests:N0}");
    }

    private static IEnumerable<JsonElement> Brokers(JsonElement statistics) =>
        statistics.GetProperty("brokers").EnumerateObject().Select(b => b.Value).Where(b => b.GetProperty("nodeid").GetInt32() >= 0);

    private static string Describe(IEnumerable<JsonElement> windows)
    {
        var list = windows.Where(w => w.GetProperty("cnt").GetInt64() > 0).ToList();
        if (list.Count == 0)
        {
            return "none";
        }

        return $"avg {list.Average(w => w.GetProperty("avg").GetInt64()) / 1000:0.0} ms, p99 {list.Average(w => w.GetProperty("p99").GetInt64()) / 1000:0.0} ms";
    }
}
