namespace Kiln.Shared.Sensors;

/// <summary>Sensor ids are <c>site.asset.measure</c>: lowercase letters, digits, '-', '_' and '.', at most 128 characters.</summary>
public static class SensorId
{
    public const int MaxLength = 128;

    /// <summary>Null when <paramref name="id"/> is valid, else the reason it is not.</summary>
    public static string? Validate(string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            return "sensor id is required";
        }

        if (id.Length > MaxLength)
        {
            return $"sensor id is longer than {MaxLength} characters";
        }

        foreach (var c in id)
        {
            if (!IsSegmentCharacter(c) && c != '.')
            {
                return "sensor id may contain only lowercase letters, digits, '-', '_' and '.'";
            }
        }

        if (id[0] == '.' || id[^1] == '.' || id.Contains("..", StringComparison.Ordinal))
        {
            return "sensor id segments must not be empty";
        }

        return null;
    }

    /// <summary>Null when <paramref name="site"/> can be the first segment of a sensor id, else the reason it cannot.</summary>
    public static string? ValidateSite(string? site)
    {
        if (string.IsNullOrEmpty(site))
        {
            return "site is required";
        }

        if (site.Length > MaxLength)
        {
            return $"site is longer than {MaxLength} characters";
        }

        return site.All(IsSegmentCharacter) ? null : "site may contain only lowercase letters, digits, '-' and '_'";
    }

    /// <summary>The site is the first segment of the id.</summary>
    public static string SiteOf(string id)
    {
        var dot = id.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? id : id[..dot];
    }

    private static bool IsSegmentCharacter(char c) => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-' or '_';
}
