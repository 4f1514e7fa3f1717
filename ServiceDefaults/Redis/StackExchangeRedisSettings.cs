namespace Kiln.ServiceDefaults.Redis;

/// <summary>
/// Settings of <c>AddRedisClient</c>, bound from <c>Aspire:StackExchange:Redis</c> (then its <c>{connectionName}</c>
/// subsection) as in Aspire.StackExchange.Redis; StackExchange.Redis's own options go in their <c>ConfigurationOptions</c>.
/// </summary>
public sealed class StackExchangeRedisSettings : ClientSettings;
