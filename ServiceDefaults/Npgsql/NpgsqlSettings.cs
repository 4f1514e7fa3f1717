namespace Kiln.ServiceDefaults.Npgsql;

/// <summary>Settings of <c>AddNpgsqlDataSource</c>, bound from <c>Aspire:Npgsql</c> (then its <c>{connectionName}</c> subsection) as in Aspire.Npgsql.</summary>
public sealed class NpgsqlSettings : ClientSettings;
