using System.Text.Json;
using Kiln.Shared.Alerts;
using Kiln.Shared.Readings;
using Npgsql;
using NpgsqlTypes;

namespace Kiln.Api.Sensors;

/// <summary>Sensors in PostgreSQL.</summary>
internal sealed class SensorStore(NpgsqlDataSource dataSource)
{
    private const string Columns = "id, site, kind, unit, rule, updated_at";

    /// <summary>Creates or updates; returns the stored sensor and whether it was created.</summary>
    public async Task<(Sensor Sensor, bool Created)> UpsertAsync(string id, SensorDefinition definition, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            INSERT INTO sensors (id, site, kind, unit, rule) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (id) DO UPDATE SET site = EXCLUDED.site, kind = EXCLUDED.kind, unit = EXCLUDED.unit,
                rule = EXCLUDED.rule, updated_at = now()
            RETURNING {Columns}, (xmax = 0) AS created
            """);
        command.Parameters.AddWithValue(id);
        command.Parameters.AddWithValue(definition.Site!);
        command.Parameters.AddWithValue(definition.Kind!);
        command.Parameters.AddWithValue(definition.Unit!);
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Jsonb, Value = definition.Rule is null ? DBNull.Value : JsonSerializer.Serialize(definition.Rule, KilnJson.Options) });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (Read(reader), reader.GetBoolean(6));
    }

    public async Task<Sensor?> FindAsync(string id, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM sensors WHERE id = $1");
        command.Parameters.AddWithValue(id);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? Read(reader) : null;
    }

    /// <summary>One page of sensors by id, of one site or all; ids are unique, so "after the last id" neither repeats nor skips one.</summary>
    public async Task<SensorPage> PageAsync(SensorPageRequest request, CancellationToken cancellationToken)
    {
        // One row more than asked tells whether another page follows, without counting.
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM sensors
            WHERE ($1::text IS NULL OR site = $1) AND ($2::text IS NULL OR id > $2)
            ORDER BY id
            LIMIT $3
            """);
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)request.Site ?? DBNull.Value });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)request.After ?? DBNull.Value });
        command.Parameters.AddWithValue(request.Limit + 1);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var sensors = new List<Sensor>(Math.Min(request.Limit, 1024));
        var more = false;
        while (await reader.ReadAsync(cancellationToken))
        {
            if (sensors.Count == request.Limit)
            {
                more = true;
                break;
            }

            sensors.Add(Read(reader));
        }

        return new SensorPage(sensors, more ? SensorPageRequest.EncodeCursor(sensors[^1].Id) : null);
    }

    /// <summary>The sites of those of <paramref name="ids"/> that exist.</summary>
    public async Task<Dictionary<string, string>> SitesOfAsync(IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT id, site FROM sensors WHERE id = ANY($1)");
        command.Parameters.AddWithValue(ids.ToArray());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var sites = new Dictionary<string, string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            sites[reader.GetString(0)] = reader.GetString(1);
        }

        return sites;
    }

    private static Sensor Read(NpgsqlDataReader reader) => new(
        reader.GetString(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.GetString(3),
        reader.IsDBNull(4) ? null : JsonSerializer.Deserialize<AlertRule>(reader.GetString(4), KilnJson.Options),
        reader.GetFieldValue<DateTimeOffset>(5));
}
