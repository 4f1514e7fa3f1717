using System.Text.Json;
using Kiln.Shared;
using Kiln.Shared.Alerts;
using Kiln.Shared.Readings;
using Npgsql;
using NpgsqlTypes;

namespace Kiln.Worker.Alerts;

/// <summary>
/// Evaluates the alert rules of a stored batch's sensors and records what changed, exactly once: each sensor's evaluation
/// state is advanced in the transaction that writes its alerts and their transitions (the outbox <see cref="AlertPublisher"/>
/// produces from), and only from the state it was evaluated from. A batch evaluated again (redelivered after a crash or a
/// rebalance) finds its readings already evaluated; two replicas evaluating one sensor at once (during a rebalance) cannot
/// both advance it: the second finds the state moved, reloads it and evaluates again.
/// <para>
/// Rules and states are kept in memory between batches, so a batch costs one statement (the states it advances) and one
/// per transition. A sensor seen for the first time is read at once; a rule changed later applies within
/// <see cref="RulesRefreshInterval"/>. Used by one consuming loop at a time.
/// </para>
/// </summary>
internal sealed class AlertRecorder(NpgsqlDataSource dataSource, TimeProvider time, ILogger<AlertRecorder> logger)
{
    public static readonly TimeSpan RulesRefreshInterval = TimeSpan.FromSeconds(2);

    // Rules are read again from a little before the last read: a sensor written by a transaction that began earlier but
    // committed after that read carries an updated_at before it.
    private static readonly TimeSpan RulesReadOverlap = TimeSpan.FromSeconds(30);
    private const int MaxAttempts = 5;

    /// <summary>Every sensor met, with its site and rule (null: none).</summary>
    private readonly Dictionary<string, (string Site, AlertRule? Rule)> _sensors = new(StringComparer.Ordinal);

    /// <summary>The evaluation state of ruled sensors, as PostgreSQL holds it.</summary>
    private readonly Dictionary<string, SensorAlertState> _states = new(StringComparer.Ordinal);

    private DateTimeOffset? _rulesReadAt;
    private long _rulesRefreshedAt;

    /// <summary>Returns the transitions recorded.</summary>
    public async Task<int> RecordAsync(IReadOnlyList<ReadingMessage> readings, CancellationToken cancellationToken)
    {
        var bySensor = readings.GroupBy(r => r.SensorId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await RefreshRulesAsync(connection, bySensor.Keys, cancellationToken);
        var ids = bySensor.Keys.Where(id => _sensors.TryGetValue(id, out var sensor) && sensor.Rule is not null).Order(StringComparer.Ordinal).ToArray();
        if (ids.Length == 0)
        {
            return 0;
        }

        for (var attempt = 1; ; attempt++)
        {
            await LoadStatesAsync(connection, [.. ids.Where(id => !_states.ContainsKey(id))], cancellationToken);
            var evaluated = ids.ToDictionary(id => id, id => _states[id].Copy(), StringComparer.Ordinal);
            var changes = new List<AlertChange>();
            foreach (var id in ids)
            {
                AlertEvaluator.Evaluate(id, _sensors[id].Rule!, evaluated[id], bySensor[id], changes);
            }

            var advanced = ids.Where(id => evaluated[id].EvaluatedThrough != _states[id].EvaluatedThrough).ToArray();
            if (advanced.Length == 0)
            {
                return 0; // every reading evaluated already
            }

            if (await TrySaveAsync(connection, advanced, [.. advanced.Select(id => _states[id].EvaluatedThrough)], evaluated, changes, cancellationToken))
            {
                foreach (var id in advanced)
                {
                    _states[id] = evaluated[id];
                }

                foreach (var change in changes)
                {
                    logger.LogInformation("Alert {Transition}: {SensorId} {Condition} (threshold {Threshold}) at {At:O} with {Value}",
                        change.Transition, change.SensorId, change.Condition, change.Threshold, change.At, change.Value);
                }

                return changes.Count;
            }

            // Another replica advanced some of these sensors meanwhile: read them again and evaluate from where it left them.
            logger.LogDebug("Alert states of {Count} sensors moved under this replica (attempt {Attempt}); reading them again", advanced.Length, attempt);
            foreach (var id in advanced)
            {
                _states.Remove(id);
            }

            if (attempt == MaxAttempts)
            {
                throw new TimeoutException($"The alert states of {advanced.Length} sensors kept moving under this replica for {MaxAttempts} attempts.");
            }
        }
    }

    /// <summary>
    /// Advances the states from exactly what they were evaluated from, and writes the alerts and transitions, in one
    /// transaction; false (and nothing written) when any state had moved.
    /// </summary>
    private async Task<bool> TrySaveAsync(NpgsqlConnection connection, string[] advanced, DateTimeOffset?[] was,
        Dictionary<string, SensorAlertState> evaluated, List<AlertChange> changes, CancellationToken cancellationToken)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var update = new NpgsqlCommand("""
            UPDATE alert_evaluations e SET evaluated_through = s.ts, last_value = s.value
            FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::double precision[]) AS s (sensor_id, was, ts, value)
            WHERE e.sensor_id = s.sensor_id AND e.evaluated_through IS NOT DISTINCT FROM s.was
            """, connection, transaction))
        {
            update.Parameters.Add(Array(advanced));
            update.Parameters.Add(new NpgsqlParameter { Value = was, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
            update.Parameters.Add(new NpgsqlParameter { Value = advanced.Select(id => evaluated[id].EvaluatedThrough).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
            update.Parameters.Add(new NpgsqlParameter { Value = advanced.Select(id => evaluated[id].LastValue).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Double });
            if (await update.ExecuteNonQueryAsync(cancellationToken) != advanced.Length)
            {
                await transaction.RollbackAsync(cancellationToken);
                return false;
            }
        }

        if (changes.Count > 0)
        {
            await using var writes = new NpgsqlBatch(connection, transaction);
            foreach (var change in changes)
            {
                writes.BatchCommands.Add(change.Transition == AlertTransitions.Opened ? Open(change) : Close(change));
            }

            writes.BatchCommands.Add(new NpgsqlBatchCommand($"NOTIFY {Topology.Database.AlertTransitionsChannel}"));
            await writes.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// Sensors not met before are read at once; every <see cref="RulesRefreshInterval"/>, the sensors changed since the last
    /// read (a rule set, changed or taken away) are read again.
    /// </summary>
    private async Task RefreshRulesAsync(NpgsqlConnection connection, IEnumerable<string> sensorIds, CancellationToken cancellationToken)
    {
        var unknown = sensorIds.Where(id => !_sensors.ContainsKey(id)).ToArray();
        if (unknown.Length > 0)
        {
            await ReadSensorsAsync(connection, "id = ANY($1)", Array(unknown), cancellationToken);
        }

        if (time.GetElapsedTime(_rulesRefreshedAt) < RulesRefreshInterval && _rulesReadAt is not null)
        {
            return;
        }

        var readAt = time.GetUtcNow();
        if (_rulesReadAt is { } since)
        {
            await ReadSensorsAsync(connection, "updated_at > $1", new NpgsqlParameter { Value = since - RulesReadOverlap }, cancellationToken);
        }

        _rulesReadAt = readAt;
        _rulesRefreshedAt = time.GetTimestamp();
    }

    private async Task ReadSensorsAsync(NpgsqlConnection connection, string where, NpgsqlParameter parameter, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand($"SELECT id, site, rule FROM sensors WHERE {where}", connection);
        command.Parameters.Add(parameter);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var rule = reader.IsDBNull(2) ? null : JsonSerializer.Deserialize<AlertRule>(reader.GetString(2), KilnJson.Options);
            _sensors[reader.GetString(0)] = (reader.GetString(1), rule);
        }
    }

    /// <summary>Reads the states of sensors not held in memory, creating the rows of sensors never evaluated.</summary>
    private async Task LoadStatesAsync(NpgsqlConnection connection, string[] ids, CancellationToken cancellationToken)
    {
        if (ids.Length == 0)
        {
            return;
        }

        var states = ids.ToDictionary(id => id, _ => new SensorAlertState(), StringComparer.Ordinal);
        await using var batch = new NpgsqlBatch(connection);
        batch.BatchCommands.Add(Command("INSERT INTO alert_evaluations (sensor_id) SELECT unnest($1::text[]) ORDER BY 1 ON CONFLICT DO NOTHING", Array(ids)));
        batch.BatchCommands.Add(Command("SELECT sensor_id, evaluated_through, last_value FROM alert_evaluations WHERE sensor_id = ANY($1)", Array(ids)));
        batch.BatchCommands.Add(Command("SELECT sensor_id, condition FROM alerts WHERE sensor_id = ANY($1) AND closed_at IS NULL", Array(ids)));
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
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
        }

        foreach (var (id, state) in states)
        {
            _states[id] = state;
        }
    }

    private NpgsqlBatchCommand Open(AlertChange change) => Command("""
        WITH opened AS (
            INSERT INTO alerts (sensor_id, site, condition, severity, threshold, opened_at, opened_value)
            VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id)
        INSERT INTO alert_transitions (alert_id, transition, at, value) SELECT id, 'opened', $6, $7 FROM opened
        """,
        new NpgsqlParameter { Value = change.SensorId }, new NpgsqlParameter { Value = _sensors[change.SensorId].Site },
        new NpgsqlParameter { Value = change.Condition }, new NpgsqlParameter { Value = change.Severity }, new NpgsqlParameter { Value = change.Threshold },
        new NpgsqlParameter { Value = change.At }, new NpgsqlParameter { Value = change.Value });

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
