using System.Diagnostics;
using System.Net;
using Kiln.Shared.Security;
using Kiln.Web.Api;
using Kiln.Web.Overview;
using Kiln.Web.Sensors;
using Kiln.Web.SignIn;

namespace Kiln.Tests.Web;

/// <summary>The Web's pure decisions: the password check, a sensor's state, where the chart draws, the sign-in throttle's gates.</summary>
public sealed class WebDecisionTests
{
    [Fact]
    public void The_operator_password_matches_only_itself()
    {
        var hash = OperatorPassword.Hash("Correct0Horse");
        Assert.True(OperatorPassword.Matches("Correct0Horse", hash));
        Assert.True(OperatorPassword.Matches("Correct0Horse", hash.ToUpperInvariant()));
        Assert.False(OperatorPassword.Matches("correct0horse", hash));
        Assert.False(OperatorPassword.Matches("", hash));
        Assert.False(OperatorPassword.Matches("Correct0Horse", "not a hash"));
    }

    [Theory]
    [InlineData(10, 0, "Ok")]
    [InlineData(10, 1, "Alerting")]
    [InlineData(301, 0, "Stale")]
    [InlineData(301, 2, "Alerting")] // an open alert outranks staleness
    public void A_sensors_state_comes_from_its_alerts_then_its_age(int ageSeconds, int openAlerts, string expected)
    {
        var now = new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal(Enum.Parse<SensorState>(expected), FleetOverview.StateOf(new LatestView("a.b.c", now.AddSeconds(-ageSeconds), 1), openAlerts, now));
    }

    [Fact]
    public void A_sensor_without_readings_is_stale() =>
        Assert.Equal(SensorState.Stale, FleetOverview.StateOf(null, 0, DateTimeOffset.UnixEpoch));

    [Fact]
    public void The_chart_spans_the_hour_and_the_values_with_the_thresholds_in_view()
    {
        var from = new DateTimeOffset(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
        var to = from.AddHours(1);
        RollupPoint[] points = [new(from, 60, 90, 110, 100), new(to, 60, 95, 105, 100)];
        var chart = new ChartGeometry(points, from, to, null, 150);

        Assert.Equal(90, chart.Low);
        Assert.Equal(150, chart.High); // widened to the high threshold
        Assert.Equal(8, chart.X(from));
        Assert.Equal(ChartGeometry.Width - 8, chart.X(to));
        Assert.Equal(8, chart.Y(150));
        Assert.Equal(ChartGeometry.Height - 8, chart.Y(90));
        Assert.Equal(2, chart.Average.Split(' ').Length);
        Assert.Equal(4, chart.Band.Split(' ').Length);
        Assert.All(chart.Average.Split(' ').Concat(chart.Band.Split(' ')), p => Assert.Matches(@"^\d+(\.\d)?,\d+(\.\d)?$", p));
    }

    [Fact]
    public async Task Sign_in_attempts_from_one_address_go_one_at_a_time_and_others_are_not_held_up()
    {
        var throttle = new LoginThrottle(TimeProvider.System);
        var address = IPAddress.Parse("192.0.2.7");
        using var first = await throttle.EnterAsync(address, CancellationToken.None);
        Assert.NotNull(first);

        var second = throttle.EnterAsync(address, CancellationToken.None);
        Assert.False(second.IsCompleted); // the same address waits for the first attempt

        var elsewhere = Stopwatch.StartNew();
        using (var other = await throttle.EnterAsync(FindAddressOnAnotherGate(address), CancellationToken.None))
        {
            Assert.NotNull(other);
            Assert.True(elsewhere.Elapsed < TimeSpan.FromSeconds(1));
        }

        first!.Dispose();
        using var next = await second.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.NotNull(next);
    }

    private static IPAddress FindAddressOnAnotherGate(IPAddress taken)
    {
        for (var i = 1; ; i++)
        {
            var candidate = new IPAddress([198, 51, 100, (byte)i]);
            if ((uint)candidate.GetHashCode() % LoginThrottle.Gates != (uint)taken.GetHashCode() % LoginThrottle.Gates)
            {
                return candidate;
            }
        }
    }
}
