namespace Kiln.ServiceDefaults.Redis;

/// <summary>
/// Settings of <c>AddRedisClient</c>, bound from the <c>Aspire:StackExchange:Redis</c> configuration
/// section (and <c>Aspire:StackExchange:Redis:{connectionName}</c>) as in Aspire.StackExchange.Redis.
/// StackExchange.Redis's own options go in the <c>ConfigurationOptions</c> subsection of either.
/// </summary>
public sealed class StackExchangeRedisSettings
{
    /// <summary>
    /// The StackExchange.Redis configuration string (<c>host:port,password=…</c>); taken from
    /// <c>ConnectionStrings:{connectionName}</c> when that is set.
    /// </summary>
    public string? ConnectionString { get; set; }

    public bool DisableHealthChecks { get; set; }

    public bool DisableTracing { get; set; }

    public bool DisableMetrics { get; set; }
}
