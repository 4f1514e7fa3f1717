using System.Text.Json;
using Kiln.Shared;
using Kiln.Shared.Alerts;
using Kiln.Shared.Readings;
using Npgsql;
using NpgsqlTypes;

namespace Kiln.Worker.Alerts;

/// <summary>
/// Evaluates the alert rules of a stored batch's sensors and records what changed, exactly once: the sensors' evaluation
/// state is locked, read, advanced and saved in the transaction that writes the alerts and their transitions (the outbox
/// <see cref="AlertPublisher"/> produces from). A batch evaluated again (redelivered after a crash or a rebalance, or by
/// two replicas at once during one) finds its readings already evaluated and changes nothing.
/// </summary>
internal sealed class AlertRecorder(NpgsqlDataSource dataSource, ILogger<AlertRecorder> logger)
{
    /// <summary>Returns the transitions recorded.</summary>
    public async Task<int> RecordAsync(IReadOnlyList<ReadingMessage> readings, CancellationToken cancellationToken)
    {
        var bySensor = readings.GroupBy(r => r.SensorId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var rules = await RulesAsync(connection, [.. bySensor.Keys], cancellationToken);
        if (rules.Count == 0)
        {
            return 0;
        }

        // Sorted, so that two replicas evaluating overlapping sensors lock them in the same order and never deadlock.
        var ids = rules.Keys.Order(StringComparer.Ordinal).ToArray();
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var states = await LockStatesAsync(connection, transaction, ids, cancellationToken);
        var changes = new List<AlertChange>();
        foreach (var id in ids)
        {
            AlertEvaluator.Evaluate(id, rules[id].Rule, states[id], bySensor[id], changes);
        }

        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(Command("""
            UPDATE alert_evaluations e SET evaluated_through = s.ts, last_value = s.value
            FROM unnest($1::text[], $2::timestamptz[], $3::double precision[]) AS s (sensor_id, ts, value)
            WHERE e.sensor_id = s.sensor_id
            """,
            Array(ids), new NpgsqlParameter { Value = ids.Select(id => states[id].EvaluatedThrough).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz },
            new NpgsqlParameter { Value = ids.Select(id => states[id].LastValue).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Double }));
        foreach (var change in changes)
        {
            batch.BatchCommands.Add(change.Transition == AlertTransitions.Opened ? Open(change, rules[change.SensorId].Site) : Close(change));
        }

        if (changes.Count > 0)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand($"NOTIFY {Topology.Database.AlertTransitionsChannel}"));
        }

        await batch.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        foreach (var change in changes)
        {
            logger.LogInformation("Alert {Transition}: {SensorId} {Condition} (threshold {Threshold}) at {At:O} with {Value}",
                change.Transition, change.SensorId, change.Condition, change.Threshold, change.At, change.Value);
        }

        return changes.Count;
    }

    private static async Task<Dictionary<string, (string Site, AlertRule Rule)>> RulesAsync(
        NpgsqlConnection connection, string[] sensorIds, CancellationToken cancellationToken)
    {
        var rules = new Dictionary<string, (string, AlertRule)>(StringComparer.Ordinal);
        await using var command = new NpgsqlCommand("SELECT id, site, rule FROM sensors WHERE id = ANY($1) AND rule IS NOT NULL", connection);
        command.Parameters.Add(Array(sensorIds));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            if (JsonSerializer.Deserialize<AlertRule>(reader.GetString(2), KilnJson.Options) is { } rule)
            {
                rules[reader.GetString(0)] = (reader.GetString(1), rule);
            }
        }

        return rules;
    }

    private static async Task<Dictionary<string, SensorAlertState>> LockStatesAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string[] ids, CancellationToken cancellationToken)
    {
        var states = ids.ToDictionary(id => id, _ => new SensorAlertState(), StringComparer.Ordinal);
        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(Command("INSERT INTO alert_evaluations (sensor_id) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT DO NOTHING", Array(ids)));
        batch.BatchCommands.Add(Command(
            "SELECT sensor_id, evaluated_through, last_value FROM alert_evaluations WHERE sensor_id = ANY($1) ORDER BY sensor_id FOR UPDATE",
            Array(ids)));
        batch.BatchCommands.Add(Command("SELECT sensor_id, condition FROM alerts WHERE sensor_id = ANY($1) AND closed_at IS NULL", Array(ids)));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var state = states[reader.GetString(0)];
            state.EvaluatedThrough = reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1);
            state.LastValue = reader.IsDBNull(2) ? null : reader.GetDouble(2);
        }

        await reader.NextResultAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            states[reader.GetString(0)].Open.Add(reader.GetString(1));
        }

        return states;
    }

    private static NpgsqlBatchCommand Open(AlertChange change, string site) => Command("""
        WITH opened AS (
            INSERT INTO alerts (sensor_id, site, condition, severity, threshold, opened_at, opened_value)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id)
        INSERT INTO alert_transitions (alert_id, transition, at, value) SELECT id, 'opened', $6, $7 FROM opened
        """,
        new NpgsqlParameter { Value = change.SensorId }, new NpgsqlParameter { Value = site }, new NpgsqlParameter { Value = change.Condition },
        new NpgsqlParameter { Value = change.Severity }, new NpgsqlParameter { Value = change.Threshold }, new NpgsqlParameter { Value = change.At },
        new NpgsqlParameter { Value = change.Value });

    private static NpgsqlBatchCommand Close(AlertChange change) => Command("""
        WITH closed AS (
            UPDATE alerts SET closed_at = $3, closed_value = $4 WHERE sensor_id = $1 AND condition = $2 AND closed_at IS NULL RETURNING id)
        INSERT INTO alert_transitions (alert_id, transition, at, value) SELECT id, 'closed', $3, $4 FROM closed
        """,
        new NpgsqlParameter { Value = change.SensorId }, new NpgsqlParameter { Value = change.Condition },
        new NpgsqlParameter { Value = change.At }, new NpgsqlParameter { Value = change.Value });

    private static NpgsqlParameter Array(string[] values) => new() { Value = values, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text };

    private static NpgsqlBatchCommand Command(string sql, params NpgsqlParameter[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddRange(parameters);
        return command;
    }
}
