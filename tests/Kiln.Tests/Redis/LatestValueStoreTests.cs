using System.Diagnostics;
using Kiln.Api.Sensors;
using Kiln.Shared.Readings;
using Kiln.Shared.Schema;
using Kiln.Tests.ServiceDefaults;
using Kiln.Worker.Ingestion;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using StackExchange.Redis;

namespace Kiln.Tests.Redis;

/// <summary>The Api's latest value: Redis first, PostgreSQL when the cache has nothing or is down.</summary>
public sealed class LatestValueStoreTests(RedisServerFixture redis, PostgresServerFixture postgres)
    : IClassFixture<RedisServerFixture>, IClassFixture<PostgresServerFixture>, IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 9, 0, 0, TimeSpan.Zero);
    private NpgsqlDataSource _database = null!;

    public async Task InitializeAsync()
    {
        _database = NpgsqlDataSource.Create(postgres.ConnectionString);
        await new SchemaMigrator(_database, NullLogger<SchemaMigrator>.Instance).MigrateAsync(CancellationToken.None);
    }

    public async Task DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task The_cache_answers_when_it_holds_the_sensor()
    {
        var sensor = NewSensor();
        await StoreAsync(sensor, T0, 1.0);
        await using var cache = await redis.ConnectAsync();
        await new LatestValueWriter(cache).WriteAsync([new(sensor, T0.AddSeconds(1), 2.5)], CancellationToken.None);

        var latest = await Store(cache).FindAsync(sensor, CancellationToken.None);

        Assert.Equal(new LatestReading(sensor, T0.AddSeconds(1), 2.5), latest);
    }

    [Fact]
    public async Task PostgreSQL_answers_when_the_cache_does_not_hold_the_sensor()
    {
        var sensor = NewSensor();
        await StoreAsync(sensor, T0, 1.0);
        await StoreAsync(sensor, T0.AddMinutes(1), 3.0);
        await using var cache = await redis.ConnectAsync();

        Assert.Equal(new LatestReading(sensor, T0.AddMinutes(1), 3.0), await Store(cache).FindAsync(sensor, CancellationToken.None));
        Assert.Null(await Store(cache).FindAsync(NewSensor(), CancellationToken.None));
    }

    [Fact]
    public async Task While_the_cache_is_down_PostgreSQL_answers_at_once_instead_of_after_the_backlog_timeout()
    {
        var sensor = NewSensor();
        await StoreAsync(sensor, T0, 7.0);
        await using var cache = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{RedisServerFixture.FindFreePort()},abortConnect=false,connectTimeout=200");
        Assert.False(cache.IsConnected);

        var started = Stopwatch.GetTimestamp();
        var latest = await Store(cache).FindAsync(sensor, CancellationToken.None);

        Assert.Equal(new LatestReading(sensor, T0, 7.0), latest);
        // A command would have waited 5 s in the multiplexer's backlog before failing.
        Assert.InRange(Stopwatch.GetElapsedTime(started), TimeSpan.Zero, TimeSpan.FromSeconds(2));
    }

    private LatestValueStore Store(IConnectionMultiplexer cache) => new(cache, _database, NullLogger<LatestValueStore>.Instance);

    private async Task StoreAsync(string sensor, DateTimeOffset timestamp, double value)
    {
        await using var command = _database.CreateCommand("INSERT INTO readings (sensor_id, ts, value) VALUES ($1, $2, $3)");
        command.Parameters.AddWithValue(sensor);
        command.Parameters.AddWithValue(timestamp);
        command.Parameters.AddWithValue(value);
        await command.ExecuteNonQueryAsync();
    }

    private static string NewSensor() => $"test.latest.{Guid.NewGuid():N}";
}
