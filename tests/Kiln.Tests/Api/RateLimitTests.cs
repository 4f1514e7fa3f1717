using System.Net;
using Kiln.Api.RateLimits;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace Kiln.Tests.Api;

public sealed class RateLimitTests
{
    private static readonly RateLimitOptions Options = new();

    [Fact]
    public void Ingest_with_a_key_counts_against_that_key_whatever_its_address()
    {
        var bucket = RateLimitBucket.For("ingest", "key-1", IPAddress.Parse("10.0.0.7"), "/api/v1/readings", Options);
        Assert.Equal(new RateLimitBucket(Options.Ingest, "key-1"), bucket);
        Assert.Equal(bucket, RateLimitBucket.For("ingest", "key-1", IPAddress.Parse("10.9.9.9"), "/api/v1/readings", Options));
    }

    [Fact]
    public void Other_requests_with_a_valid_key_are_not_limited() =>
        Assert.Null(RateLimitBucket.For(null, "key-1", IPAddress.Loopback, "/api/v1/sensors", Options));

    [Fact]
    public void Requests_without_a_valid_key_count_against_their_address_the_same_for_ipv4_and_its_ipv6_form()
    {
        var bucket = RateLimitBucket.For("ingest", null, IPAddress.Parse("192.0.2.1"), "/api/v1/readings", Options);
        Assert.Equal(new RateLimitBucket(Options.Anonymous, "192.0.2.1"), bucket);
        Assert.Equal(bucket, RateLimitBucket.For(null, null, IPAddress.Parse("::ffff:192.0.2.1"), "/api/v1/sensors", Options));
    }

    [Theory]
    [InlineData("/health")]
    [InlineData("/alive")]
    public void Health_probes_are_never_limited(string path) =>
        Assert.Null(RateLimitBucket.For(null, null, IPAddress.Loopback, path, Options));

    [Fact]
    public void An_allowed_request_is_told_what_is_left_and_when_the_bucket_is_full_again()
    {
        var decision = new RateLimitDecision(Options.Ingest, true, 187, TimeSpan.FromMilliseconds(130), TimeSpan.Zero, Shared: true);
        Assert.Equal(
            [new("RateLimit-Limit", "200"), new("RateLimit-Remaining", "187"), new("RateLimit-Reset", "1"),
                new("RateLimit-Policy", "100;w=1;burst=200;comment=\"ingest\"")],
            decision.Headers);
    }

    [Fact]
    public void A_refused_request_is_told_to_retry_after_whole_seconds_never_zero()
    {
        var decision = new RateLimitDecision(Options.Ingest, false, 0, TimeSpan.FromSeconds(2), TimeSpan.FromMilliseconds(10), Shared: true);
        Assert.Contains(new KeyValuePair<string, string>("Retry-After", "1"), decision.Headers);
        Assert.Contains(new KeyValuePair<string, string>("RateLimit-Remaining", "0"), decision.Headers);
        Assert.Contains(new KeyValuePair<string, string>("RateLimit-Reset", "2"),
            (decision with { ResetAfter = TimeSpan.FromSeconds(1.2) }).Headers);
    }

    [Fact]
    public void The_defaults_are_100_per_second_with_bursts_of_200_per_key()
    {
        var options = RateLimitOptions.From(new ConfigurationBuilder().Build());
        Assert.Equal((100, 200, "ingest"), (options.Ingest.PermitsPerSecond, options.Ingest.Burst, options.Ingest.Name));
        Assert.Equal(TimeSpan.FromMilliseconds(10), options.Ingest.Interval);
    }

    [Fact]
    public void Configuration_changes_one_value_and_keeps_the_others()
    {
        var options = RateLimitOptions.From(Configuration(("Kiln:RateLimits:Ingest:PermitsPerSecond", "1000")));
        Assert.Equal((1000, 200, "ingest"), (options.Ingest.PermitsPerSecond, options.Ingest.Burst, options.Ingest.Name));
    }

    [Theory]
    [InlineData("Kiln:RateLimits:Ingest:PermitsPerSecond", "0", "Kiln:RateLimits:Ingest")]
    [InlineData("Kiln:RateLimits:Anonymous:Burst", "-1", "Kiln:RateLimits:Anonymous")]
    [InlineData("Kiln:RateLimits:RedisTimeout", "00:00:00", "RedisTimeout")]
    public void A_limit_that_cannot_work_stops_the_api_naming_the_setting(string key, string value, string named) =>
        Assert.Contains(named, Assert.Throws<InvalidOperationException>(() => RateLimitOptions.From(Configuration((key, value)))).Message,
            StringComparison.Ordinal);

    [Fact]
    public void While_redis_is_away_each_replica_keeps_the_same_buckets_with_the_framework_limiters()
    {
        var options = new RateLimitOptions { Ingest = new() { Name = "ingest", PermitsPerSecond = 1, Burst = 3 } };
        using var local = new LocalRateLimits(options);
        var bucket = new RateLimitBucket(options.Ingest, "key-1");

        var decisions = Enumerable.Range(0, 4).Select(_ => local.Acquire(bucket)).ToList();

        Assert.Equal([true, true, true, false], decisions.Select(d => d.Allowed));
        Assert.Equal([2L, 1L, 0L], decisions.Take(3).Select(d => d.Remaining));
        Assert.All(decisions, d => Assert.False(d.Shared));
        Assert.InRange(decisions[3].RetryAfter, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(1));
        Assert.True(local.Acquire(new RateLimitBucket(options.Ingest, "key-2")).Allowed, "another key has a bucket of its own");
    }

    private static IConfiguration Configuration(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => KeyValuePair.Create(v.Key, (string?)v.Value))).Build();
}
