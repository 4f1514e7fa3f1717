using Microsoft.Data.Sqlite;

namespace Kiln.Dashboard.Persistence;

/// <summary>
/// One run's SQLite file, <c>{storage}/runs/{runId}.db</c>: the run's id and start, its resources and scopes, and each
/// span, log record, metric point and console line as received (OTLP protobuf bytes), in arrival order (row ids). One
/// file per run, so dropping the oldest run is deleting a file, and a run's bounds are kept with plain deletes.
/// </summary>
internal static class RunDatabase
{
    public const string Extension = ".db";

    private const string Schema = """
        PRAGMA journal_mode = WAL;
        CREATE TABLE IF NOT EXISTS run (id TEXT NOT NULL, started_at TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS resources (id INTEGER PRIMARY KEY, name TEXT NOT NULL, instance_id TEXT, data BLOB NOT NULL,
            has_logs INTEGER NOT NULL DEFAULT 0, has_traces INTEGER NOT NULL DEFAULT 0, has_metrics INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS scopes (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS spans (id INTEGER PRIMARY KEY, trace_id TEXT NOT NULL, resource_id INTEGER NOT NULL,
            scope_id INTEGER NOT NULL, data BLOB NOT NULL);
        CREATE INDEX IF NOT EXISTS spans_by_trace ON spans (trace_id);
        CREATE TABLE IF NOT EXISTS traces (trace_id TEXT PRIMARY KEY, first_span INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS traces_by_age ON traces (first_span);
        CREATE TABLE IF NOT EXISTS logs (id INTEGER PRIMARY KEY, resource_id INTEGER NOT NULL, scope_id INTEGER NOT NULL, data BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS instruments (id INTEGER PRIMARY KEY, resource_id INTEGER NOT NULL, scope_id INTEGER NOT NULL,
            name TEXT NOT NULL, shell BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS points (id INTEGER PRIMARY KEY, instrument_id INTEGER NOT NULL, data BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS console_lines (id INTEGER PRIMARY KEY, resource TEXT NOT NULL, line_number INTEGER NOT NULL,
            content TEXT NOT NULL, is_error INTEGER NOT NULL, display_name TEXT NOT NULL, UNIQUE (resource, line_number));
        """;

    public static string FileFor(string runsFolder, string runId) => Path.Combine(runsFolder, runId + Extension);

    /// <summary>Opens (creating when new) the current run's file for writing; a new file gets its run row.</summary>
    public static SqliteConnection OpenForWriting(string file, string runId, DateTimeOffset startedAt)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = file,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString());
        connection.Open();
        Execute(connection, Schema);
        // Losing the last moments of a crash is acceptable; waiting for an fsync per batch is not.
        Execute(connection, "PRAGMA synchronous = NORMAL;");
        using var count = connection.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM run";
        if ((long)count.ExecuteScalar()! == 0)
        {
            using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO run (id, started_at) VALUES ($id, $started)";
            insert.Parameters.AddWithValue("$id", runId);
            insert.Parameters.AddWithValue("$started", startedAt.ToString("O"));
            insert.ExecuteNonQuery();
        }

        return connection;
    }

    public static SqliteConnection OpenForReading(string file)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = file,
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString());
        connection.Open();
        return connection;
    }

    /// <summary>A run file and the WAL files SQLite keeps beside it.</summary>
    public static void Delete(string file)
    {
        foreach (var path in new[] { file, file + "-wal", file + "-shm" })
        {
            File.Delete(path);
        }
    }

    public static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public static long Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar() is long value ? value : 0;
    }
}
