using Kiln.Shared.Alerts;
using Kiln.Shared.Sensors;

namespace Kiln.Api.Sensors;

internal sealed record SensorDefinition(string? Site, string? Kind, string? Unit, AlertRule? Rule)
{
    public const int MaxKindLength = 64;
    public const int MaxUnitLength = 32;

    /// <summary>Null when the definition may be stored under <paramref name="id"/> (a valid id), else the reason.</summary>
    public string? Validate(string id)
    {
        if (string.IsNullOrWhiteSpace(Site) || string.IsNullOrWhiteSpace(Kind) || string.IsNullOrWhiteSpace(Unit))
        {
            return "site, kind and unit are required";
        }

        if (Site != SensorId.SiteOf(id))
        {
            return $"site must be '{SensorId.SiteOf(id)}', the sensor id's first segment";
        }

        if (Kind.Length > MaxKindLength || Unit.Length > MaxUnitLength)
        {
            return $"kind is at most {MaxKindLength} characters and unit at most {MaxUnitLength}";
        }

        // PostgreSQL text cannot hold NUL, and no display wants control characters.
        if (Kind.Any(char.IsControl) || Unit.Any(char.IsControl))
        {
            return "kind and unit must not contain control characters";
        }

        return Rule?.Validate();
    }
}

internal sealed record Sensor(string Id, string Site, string Kind, string Unit, AlertRule? Rule, DateTimeOffset UpdatedAt);

internal sealed record LatestReading(string SensorId, DateTimeOffset Timestamp, double Value);
