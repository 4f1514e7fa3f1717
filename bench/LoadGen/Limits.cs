using System.Diagnostics;
using System.Net;
using Confluent.Kafka;
using Kiln.ServiceDefaults.Kafka;
using Kiln.Shared.Readings;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace Kiln.LoadGen;

/// <summary>What the pipeline is measured against, on the same machine in the same run, one at a time.</summary>
internal sealed record Limits(double PostgresCopyRowsPerSecond, double KafkaProduceMessagesPerSecond, double HttpRequestsPerSecond)
{
    private static readonly TimeSpan Each = TimeSpan.FromSeconds(5);

    public static async Task<Limits> MeasureAsync(Platform platform, LoadSettings settings)
    {
        Console.Error.WriteLine("bench: raw limits: PostgreSQL COPY");
        var copy = await CopyAsync(platform);
        Console.Error.WriteLine("bench: raw limits: idempotent produce (acks=all) through the same broker");
        var produce = await ProduceAsync(platform, settings);
        Console.Error.WriteLine("bench: raw limits: a minimal Kestrel endpoint with the same clients and bodies");
        var requests = await KestrelAsync(settings);
        return new Limits(copy, produce, requests);
    }

    /// <summary>Binary COPY of the readings' row shape into a table like <c>readings</c> (its key included), for <see cref="Each"/>.</summary>
    private static async Task<double> CopyAsync(Platform platform)
    {
        await using var dataSource = NpgsqlDataSource.Create(platform.Database);
        await using (var create = dataSource.CreateCommand("DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy (LIKE readings INCLUDING ALL)"))
        {
            await create.ExecuteNonQueryAsync();
        }

        var origin = DateTimeOffset.UtcNow.AddDays(-20);
        long rows = 0;
        var clock = Stopwatch.StartNew();
        await using var connection = await dataSource.OpenConnectionAsync();
        while (clock.Elapsed < Each)
        {
            await using var copy = await connection.BeginBinaryImportAsync("COPY bench_copy (sensor_id, ts, value) FROM STDIN (FORMAT BINARY)");
            for (var i = 0; i < 50_000; i++, rows++)
            {
                await copy.StartRowAsync();
                await copy.WriteAsync($"bench{rows % 20:00}.unit{rows % 2000 / 20:0000}.temp", NpgsqlDbType.Text);
                await copy.WriteAsync(origin.AddTicks(rows * 10), NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(i + 0.5, NpgsqlDbType.Double);
            }

            await copy.CompleteAsync();
        }

        var perSecond = rows / clock.Elapsed.TotalSeconds;
        await using (var drop = dataSource.CreateCommand("DROP TABLE bench_copy"))
        {
            await drop.ExecuteNonQueryAsync();
        }

        return perSecond;
    }

    /// <summary>The Api's producer settings, the readings' encoding and keys, to a topic of its own, for <see cref="Each"/>.</summary>
    private static async Task<double> ProduceAsync(Platform platform, LoadSettings settings)
    {
        var config = KafkaClientDefaults.Producer();
        config.BootstrapServers = platform.Kafka;
        using var producer = new ProducerBuilder<string, byte[]>(config).Build();
        var origin = DateTimeOffset.UtcNow;
        long sent = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Each)
        {
            // As the Api does: one request's batch produced at once, then awaited whole.
            var deliveries = new Task[settings.Batch * settings.Clients];
            for (var i = 0; i < deliveries.Length; i++, sent++)
            {
                var reading = new ReadingMessage($"bench{sent % 20:00}.unit{sent % 2000 / 20:0000}.temp", origin.AddTicks(sent * 10), i);
                deliveries[i] = producer.ProduceAsync("bench.limits", new Message<string, byte[]> { Key = reading.SensorId, Value = ReadingEncoding.Encode(reading) });
            }

            await Task.WhenAll(deliveries);
        }

        return sent / clock.Elapsed.TotalSeconds;
    }

    /// <summary>Kestrel answering 202 to the same bodies from the same number of clients: the ceiling of HTTP alone here.</summary>
    private static async Task<double> KestrelAsync(LoadSettings settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var app = builder.Build();
        app.MapPost("/api/v1/readings", async (HttpRequest request) =>
        {
            await request.Body.CopyToAsync(Stream.Null);
            return Results.Accepted();
        });
        await app.StartAsync();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = settings.Clients }) { BaseAddress = new Uri(app.Urls.First()) };
        var body = Pipeline.Body(Enumerable.Range(0, 2000).Select(i => $"bench{i % 20:00}.unit{i / 20:0000}.temp").ToArray(), DateTimeOffset.UtcNow, 0, 0, settings);
        long requests = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, settings.Clients).Select(_ => Task.Run(async () =>
        {
            while (clock.Elapsed < Each)
            {
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new("application/json");
                using var response = await http.PostAsync("/api/v1/readings", content);
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    Interlocked.Increment(ref requests);
                }
            }
        })));
        var perSecond = requests / clock.Elapsed.TotalSeconds;
        await app.StopAsync();
        return perSecond;
    }
}
