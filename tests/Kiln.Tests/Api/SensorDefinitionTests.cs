using Kiln.Api.Sensors;
using Kiln.Shared.Alerts;
using Kiln.Shared.Sensors;

namespace Kiln.Tests.Api;

public sealed class SensorDefinitionTests
{
    [Theory]
    [InlineData("kiln1.burner.temp", true)]
    [InlineData("mill-2.motor_a.rpm", true)]
    [InlineData("Kiln1.burner", false)]
    [InlineData("kiln1..temp", false)]
    [InlineData(".kiln1", false)]
    [InlineData("kiln1 burner", false)]
    public void Sensor_ids_follow_the_site_asset_measure_form(string id, bool valid) =>
        Assert.Equal(valid, SensorId.Validate(id) is null);

    [Fact]
    public void Sensor_ids_are_at_most_128_characters()
    {
        Assert.Null(SensorId.Validate(new string('a', 128)));
        Assert.NotNull(SensorId.Validate(new string('a', 129)));
    }

    [Fact]
    public void The_site_must_match_the_ids_first_segment() =>
        Assert.Equal("site must be 'kiln1', the sensor id's first segment", new SensorDefinition("kiln2", "temperature", "C", null).Validate("kiln1.burner.temp"));

    [Theory]
    [InlineData("temp\0erature", "C")]
    [InlineData("temperature", "°C\n")]
    public void Kind_and_unit_are_printable_text(string kind, string unit) =>
        Assert.NotNull(new SensorDefinition("kiln1", System.Text.RegularExpressions.Regex.Unescape(kind), System.Text.RegularExpressions.Regex.Unescape(unit), null).Validate("kiln1.burner.temp"));

    [Theory]
    [InlineData("kiln1", true)]
    [InlineData("mill-2_b", true)]
    [InlineData("kiln1.burner", false)]
    [InlineData("Kiln1", false)]
    [InlineData("kiln1'--", false)]
    [InlineData("", false)]
    public void Sites_are_one_segment_of_a_sensor_id(string site, bool valid) =>
        Assert.Equal(valid, SensorId.ValidateSite(site) is null);

    [Theory]
    [InlineData(10.0, 5.0, 0.0, null)]
    [InlineData(null, 5.0, -1.0, null)]
    [InlineData(null, double.NaN, 0.0, null)]
    [InlineData(null, 5.0, 0.0, 0.0)]
    public void Inconsistent_rules_are_refused(double? low, double? high, double hysteresis, double? rate) =>
        Assert.NotNull(new SensorDefinition("kiln1", "temperature", "C", new AlertRule(low, high, hysteresis, rate)).Validate("kiln1.burner.temp"));

    [Fact]
    public void The_specs_example_sensor_is_valid() =>
        Assert.Null(new SensorDefinition("kiln1", "temperature", "C", new AlertRule(null, 1450, 5)).Validate("kiln1.burner.temp"));
}
