using Kiln.Simulator.Feeding;

namespace Kiln.Tests.Simulator;

/// <summary>How the simulator waits for an Api that cannot take its readings.</summary>
public sealed class ApiBackoffTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Failures_wait_one_second_then_twice_as_long_each_time_up_to_thirty()
    {
        var backoff = new ApiBackoff();
        Assert.True(backoff.MaySend(T0));
        var waits = new List<double>();
        var now = T0;
        for (var i = 0; i < 8; i++)
        {
            backoff.Failed(now, now);
            Assert.False(backoff.MaySend(now));
            waits.Add((backoff.RetryAt - now).TotalSeconds);
            now = backoff.RetryAt;
            Assert.True(backoff.MaySend(now));
        }

        Assert.Equal([1, 2, 4, 8, 16, 30, 30, 30], waits);
    }

    [Fact]
    public void A_retry_after_longer_than_the_backoff_is_honoured_and_a_shorter_one_is_not()
    {
        var backoff = new ApiBackoff();
        backoff.Failed(T0, T0, TimeSpan.FromSeconds(7));
        Assert.Equal(T0.AddSeconds(7), backoff.RetryAt);
        backoff.Failed(T0, T0, TimeSpan.FromSeconds(1));
        Assert.Equal(T0.AddSeconds(2), backoff.RetryAt);
    }

    [Fact]
    public void An_outage_is_reported_once_when_it_starts_and_once_with_its_length_when_it_ends()
    {
        var backoff = new ApiBackoff();
        Assert.Null(backoff.Succeeded(T0)); // no outage: nothing to report
        Assert.True(backoff.Failed(T0.AddSeconds(10), T0.AddSeconds(40)));   // started when the failed request was sent
        Assert.False(backoff.Failed(T0.AddSeconds(41), T0.AddSeconds(41)));
        Assert.Equal(TimeSpan.FromSeconds(35), backoff.Succeeded(T0.AddSeconds(45)));
        Assert.True(backoff.MaySend(T0.AddSeconds(45)));
        Assert.Equal(TimeSpan.Zero, backoff.Current);
        Assert.True(backoff.Failed(T0.AddSeconds(50), T0.AddSeconds(50))); // a new outage
        Assert.Equal(TimeSpan.FromSeconds(1), backoff.Current);
    }
}
