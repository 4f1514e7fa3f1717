using Kiln.Api.Readings;

namespace Kiln.Tests.Api;

public sealed class ReadingValidatorTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 9, 0, 0, TimeSpan.Zero);
    private static readonly Dictionary<string, string> Sites = new() { ["kiln1.burner.temp"] = "kiln1", ["mill2.motor.rpm"] = "mill2" };
    private static readonly IngestOptions Options = new();

    private static (int Accepted, List<RejectedReading> Rejected) Validate(string? keySite, params ReadingInput?[] items)
    {
        var (accepted, rejected) = ReadingValidator.Validate(items, Sites, keySite, Now, Options);
        return (accepted.Count, rejected);
    }

    [Fact]
    public void A_valid_reading_is_accepted()
    {
        var (accepted, rejected) = Validate(null, new ReadingInput("kiln1.burner.temp", Now, 1012.5));
        Assert.Equal(1, accepted);
        Assert.Empty(rejected);
    }

    [Theory]
    [InlineData("Kiln1.burner.temp", "lowercase")]
    [InlineData("unknown.sensor.x", "unknown sensor")]
    [InlineData("", "required")]
    public void A_bad_or_unknown_sensor_id_is_rejected_with_its_reason(string id, string reason)
    {
        var (_, rejected) = Validate(null, new ReadingInput(id, Now, 1));
        Assert.Contains(reason, Assert.Single(rejected).Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void A_value_that_is_not_finite_is_rejected(double value)
    {
        var (_, rejected) = Validate(null, new ReadingInput("kiln1.burner.temp", Now, value));
        Assert.Equal("value must be a finite number", Assert.Single(rejected).Reason);
    }

    [Fact]
    public void Timestamps_outside_the_allowed_skew_are_rejected_and_items_keep_their_index()
    {
        var (accepted, rejected) = Validate(null,
            new ReadingInput("kiln1.burner.temp", Now.AddMinutes(-1), 1),
            new ReadingInput("kiln1.burner.temp", Now.AddMinutes(6), 1),
            new ReadingInput("kiln1.burner.temp", Now.AddDays(-31), 1),
            null,
            new ReadingInput("kiln1.burner.temp", null, 1),
            new ReadingInput("kiln1.burner.temp", Now, null));
        Assert.Equal(1, accepted);
        Assert.Equal([1, 2, 3, 4, 5], rejected.Select(r => r.Index));
        Assert.Contains("future", rejected[0].Reason, StringComparison.Ordinal);
        Assert.Contains("older", rejected[1].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_second_item_with_the_same_sensor_and_timestamp_is_rejected_as_a_duplicate_of_the_first()
    {
        var (accepted, rejected) = Validate(null,
            new ReadingInput("kiln1.burner.temp", Now, 1),
            new ReadingInput("mill2.motor.rpm", Now, 2),
            new ReadingInput("kiln1.burner.temp", Now.AddTicks(5), 3), // the same microsecond: the same reading once stored
            new ReadingInput("kiln1.burner.temp", Now.ToOffset(TimeSpan.FromHours(1)), 4),
            new ReadingInput("kiln1.burner.temp", Now.AddSeconds(1), 5));
        Assert.Equal(3, accepted);
        Assert.Equal([2, 3], rejected.Select(r => r.Index));
        Assert.All(rejected, r => Assert.StartsWith("duplicate of item 0", r.Reason, StringComparison.Ordinal));
    }

    [Fact]
    public void A_rejected_item_does_not_make_a_later_one_a_duplicate()
    {
        var (accepted, rejected) = Validate(null,
            new ReadingInput("kiln1.burner.temp", Now, double.NaN),
            new ReadingInput("kiln1.burner.temp", Now, 1));
        Assert.Equal(1, accepted);
        Assert.Equal(0, Assert.Single(rejected).Index);
    }

    [Fact]
    public void An_item_that_could_not_be_read_is_rejected_with_what_was_wrong()
    {
        var (_, rejected) = Validate(null, new ReadingInput("kiln1.burner.temp", Now, null, "value must be a JSON number, not a string"), null);
        Assert.Equal(["value must be a JSON number, not a string", "a reading must be a JSON object, not null"], rejected.Select(r => r.Reason));
    }

    [Theory]
    [InlineData("kiln1.burner.temp/../../etc")]
    [InlineData("kiln1.burner.temp'; DROP TABLE readings; --")]
    [InlineData("kiln1.brenner.temperatür")]
    [InlineData("kiln1.burner.temp\u0000")]
    public void Hostile_sensor_ids_are_rejected_as_invalid_not_looked_up(string id)
    {
        var (_, rejected) = Validate(null, new ReadingInput(id, Now, 1));
        Assert.Contains("may contain only", Assert.Single(rejected).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_site_key_may_only_send_its_own_sites_readings()
    {
        var (accepted, rejected) = Validate("kiln1",
            new ReadingInput("kiln1.burner.temp", Now, 1),
            new ReadingInput("mill2.motor.rpm", Now, 1));
        Assert.Equal(1, accepted);
        Assert.Equal(1, Assert.Single(rejected).Index);
    }

    [Fact]
    public void Timestamps_are_truncated_to_the_microsecond_postgresql_stores()
    {
        var precise = Now.AddTicks(1234567);
        var (accepted, _) = ReadingValidator.Validate([new ReadingInput("kiln1.burner.temp", precise, 1)], Sites, null, Now, Options);
        Assert.Equal(Now.AddTicks(1234560), accepted[0].Timestamp);
    }
}
