using Kiln.Shared;
using Npgsql;

namespace Kiln.Api.Alerts;

/// <summary>An alert as the Api shows it. <see cref="State"/> is <c>open</c>, <c>acknowledged</c> (and still open) or <c>closed</c>.</summary>
internal sealed record Alert(
    long Id, string SensorId, string Site, string Condition, string Severity, double Threshold, string State,
    DateTimeOffset OpenedAt, double OpenedValue, DateTimeOffset? ClosedAt, double? ClosedValue,
    DateTimeOffset? AcknowledgedAt, string? AcknowledgedBy);

internal static class AlertStates
{
    public const string Open = "open";
    public const string Acknowledged = "acknowledged";
    public const string Closed = "closed";

    public static readonly string[] All = [Open, Acknowledged, Closed];
}

/// <summary>Alerts in PostgreSQL: the Worker opens and closes them; operators acknowledge them here.</summary>
internal sealed class AlertStore(NpgsqlDataSource dataSource, TimeProvider time)
{
    private const string Columns = """
        id, sensor_id, site, condition, severity, threshold,
        CASE WHEN closed_at IS NOT NULL THEN 'closed' WHEN acknowledged_at IS NOT NULL THEN 'acknowledged' ELSE 'open' END,
        opened_at, opened_value, closed_at, closed_value, acknowledged_at, acknowledged_by
        """;

    /// <summary>Newest first, after <paramref name="before"/> (the last id of the previous page).</summary>
    public async Task<IReadOnlyList<Alert>> ListAsync(string? state, string? site, string? sensorId, int limit, long? before, CancellationToken cancellationToken)
    {
        var where = new List<string>();
        await using var command = dataSource.CreateCommand();
        void Filter(string condition, object? value)
        {
            if (value is not null)
            {
                command.Parameters.Add(new NpgsqlParameter { Value = value });
                where.Add(condition.Replace("@", "$" + command.Parameters.Count, StringComparison.Ordinal));
            }
        }

        Filter("site = @", site);
        Filter("sensor_id = @", sensorId);
        Filter("id < @", before);
        where.Add(state switch
        {
            AlertStates.Open => "closed_at IS NULL AND acknowledged_at IS NULL",
            AlertStates.Acknowledged => "closed_at IS NULL AND acknowledged_at IS NOT NULL",
            AlertStates.Closed => "closed_at IS NOT NULL",
            _ => "true",
        });
        command.Parameters.Add(new NpgsqlParameter { Value = limit });
        command.CommandText = $"SELECT {Columns} FROM alerts WHERE {string.Join(" AND ", where)} ORDER BY id DESC LIMIT ${command.Parameters.Count}";
        return await ReadAsync(command, cancellationToken);
    }

    public async Task<Alert?> FindAsync(long id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM alerts WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        return (await ReadAsync(command, cancellationToken)).SingleOrDefault();
    }

    /// <summary>
    /// Records who acknowledged an open alert and when, with its transition for <c>kiln.alerts</c>, in one transaction. An
    /// alert already acknowledged keeps its first acknowledgement; a closed one is not changed. Returns the alert as it is
    /// now, or null when there is none.
    /// </summary>
    public async Task<Alert?> AcknowledgeAsync(long id, string by, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("""
                    WITH acknowledged AS (
                        UPDATE alerts SET acknowledged_at = $2, acknowledged_by = $3
                        WHERE id = $1 AND closed_at IS NULL AND acknowledged_at IS NULL RETURNING id, acknowledged_at, acknowledged_by)
                    INSERT INTO alert_transitions (alert_id, transition, at, by) SELECT id, 'acknowledged', acknowledged_at, acknowledged_by FROM acknowledged
                    """)
                {
                    Parameters = { new() { Value = id }, new() { Value = time.GetUtcNow() }, new() { Value = by } },
                },
                new NpgsqlBatchCommand($"NOTIFY {Topology.Database.AlertTransitionsChannel}"),
            },
        };
        await batch.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return await FindAsync(id, cancellationToken);
    }

    private static async Task<List<Alert>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var alerts = new List<Alert>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            alerts.Add(new Alert(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.GetDouble(5), reader.GetString(6), reader.GetFieldValue<DateTimeOffset>(7), reader.GetDouble(8),
                reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9), reader.IsDBNull(10) ? null : reader.GetDouble(10),
                reader.IsDBNull(11) ? null : reader.GetFieldValue<DateTimeOffset>(11), reader.IsDBNull(12) ? null : reader.GetString(12)));
        }

        return alerts;
    }
}
