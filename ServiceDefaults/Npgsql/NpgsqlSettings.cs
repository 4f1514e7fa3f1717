namespace Kiln.ServiceDefaults.Npgsql;

/// <summary>
/// Settings of <c>AddNpgsqlDataSource</c>, bound from the <c>Aspire:Npgsql</c> configuration section
/// (and <c>Aspire:Npgsql:{connectionName}</c>) as in Aspire.Npgsql.
/// </summary>
public sealed class NpgsqlSettings
{
    /// <summary>Taken from <c>ConnectionStrings:{connectionName}</c> when that is set.</summary>
    public string? ConnectionString { get; set; }

    public bool DisableHealthChecks { get; set; }

    public bool DisableTracing { get; set; }

    public bool DisableMetrics { get; set; }
}
