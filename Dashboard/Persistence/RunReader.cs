using Kiln.Dashboard.Configuration;
using Kiln.Dashboard.Otlp.Proto.Collector.Logs;
using Kiln.Dashboard.Otlp.Proto.Collector.Metrics;
using Kiln.Dashboard.Otlp.Proto.Collector.Trace;
using Kiln.Dashboard.Otlp.Proto.Common;
using Kiln.Dashboard.Otlp.Proto.Logs;
using Kiln.Dashboard.Otlp.Proto.Metrics;
using Kiln.Dashboard.Otlp.Proto.Trace;
using Kiln.Dashboard.Otlp.Storage;
using Kiln.Dashboard.ResourceService;
using Microsoft.Data.Sqlite;
using OtlpResource = Kiln.Dashboard.Otlp.Proto.Resource.Resource;

namespace Kiln.Dashboard.Persistence;

/// <summary>What a run file says about itself: its id, start, and how much of each signal it holds.</summary>
internal sealed record RunSummary(string RunId, DateTimeOffset StartedAt, long Traces, long Spans, long Logs, long MetricPoints, long ConsoleLines);

/// <summary>
/// Reads a run file back: its summary, or all of it into an in-memory store (the same <see cref="TelemetryRepository"/>
/// the live view uses, so every page and API reads a past run as it reads the current one) and a console store. The
/// items go in as they arrived (row order), as OTLP exports of consecutive items of one resource and scope.
/// </summary>
internal static class RunReader
{
    private const int ExportSize = 1_000;

    public static RunSummary ReadSummary(SqliteConnection connection)
    {
        using var run = connection.CreateCommand();
        run.CommandText = "SELECT id, started_at FROM run LIMIT 1";
        using var reader = run.ExecuteReader();
        if (!reader.Read())
        {
            throw new InvalidDataException("The file has no run row.");
        }

        var id = reader.GetString(0);
        var startedAt = DateTimeOffset.Parse(reader.GetString(1), System.Globalization.CultureInfo.InvariantCulture);
        return new RunSummary(id, startedAt,
            RunDatabase.Scalar(connection, "SELECT COUNT(*) FROM traces"),
            RunDatabase.Scalar(connection, "SELECT COUNT(*) FROM spans"),
            RunDatabase.Scalar(connection, "SELECT COUNT(*) FROM logs"),
            RunDatabase.Scalar(connection, "SELECT COUNT(*) FROM points"),
            RunDatabase.Scalar(connection, "SELECT COUNT(*) FROM console_lines"));
    }

    /// <summary>Everything the file holds, into <paramref name="store"/> and <paramref name="console"/>.</summary>
    public static void Load(SqliteConnection connection, TelemetryRepository store, ConsoleLogStore console)
    {
        var resources = new Dictionary<long, OtlpResource>();
        foreach (var row in Rows(connection, "SELECT id, data, has_logs, has_traces, has_metrics FROM resources ORDER BY id"))
        {
            var resource = OtlpResource.Parser.ParseFrom((byte[])row[1]);
            resources.Add((long)row[0], resource);
            // A resource that sent a signal is listed under it even when every item of it has been pushed out since.
            if ((long)row[3] == 1)
            {
                store.AddTraces(new ExportTraceServiceRequest { ResourceSpans = { new ResourceSpans { Resource = resource } } });
            }

            if ((long)row[2] == 1)
            {
                store.AddLogs(new ExportLogsServiceRequest { ResourceLogs = { new ResourceLogs { Resource = resource } } });
            }

            if ((long)row[4] == 1)
            {
                store.AddMetrics(new ExportMetricsServiceRequest { ResourceMetrics = { new ResourceMetrics { Resource = resource } } });
            }
        }

        var scopes = new Dictionary<long, InstrumentationScope>();
        foreach (var row in Rows(connection, "SELECT id, data FROM scopes"))
        {
            scopes.Add((long)row[0], InstrumentationScope.Parser.ParseFrom((byte[])row[1]));
        }

        LoadSpans(connection, store, resources, scopes);
        LoadLogs(connection, store, resources, scopes);
        LoadMetrics(connection, store, resources, scopes);
        LoadConsole(connection, console);
    }

    private static void LoadSpans(SqliteConnection connection, TelemetryRepository store, Dictionary<long, OtlpResource> resources,
        Dictionary<long, InstrumentationScope> scopes)
    {
        var request = new ExportTraceServiceRequest();
        ScopeSpans? current = null;
        (long, long) currentKey = default;
        var count = 0;
        foreach (var row in Rows(connection, "SELECT resource_id, scope_id, data FROM spans ORDER BY id"))
        {
            var key = ((long)row[0], (long)row[1]);
            if (!resources.TryGetValue(key.Item1, out var resource) || !scopes.TryGetValue(key.Item2, out var scope))
            {
                continue; // a row whose resource or scope a failed write took back: not readable, not worth failing the run for
            }

            if (current is null || key != currentKey)
            {
                current = new ScopeSpans { Scope = scope };
                request.ResourceSpans.Add(new ResourceSpans { Resource = resource, ScopeSpans = { current } });
                currentKey = key;
            }

            current.Spans.Add(Span.Parser.ParseFrom((byte[])row[2]));
            if (++count % ExportSize == 0)
            {
                store.AddTraces(request);
                request = new ExportTraceServiceRequest();
                current = null;
            }
        }

        store.AddTraces(request);
    }

    private static void LoadLogs(SqliteConnection connection, TelemetryRepository store, Dictionary<long, OtlpResource> resources,
        Dictionary<long, InstrumentationScope> scopes)
    {
        var request = new ExportLogsServiceRequest();
        ScopeLogs? current = null;
        (long, long) currentKey = default;
        var count = 0;
        foreach (var row in Rows(connection, "SELECT resource_id, scope_id, data FROM logs ORDER BY id"))
        {
            var key = ((long)row[0], (long)row[1]);
            if (!resources.TryGetValue(key.Item1, out var resource) || !scopes.TryGetValue(key.Item2, out var scope))
            {
                continue;
            }

            if (current is null || key != currentKey)
            {
                current = new ScopeLogs { Scope = scope };
                request.ResourceLogs.Add(new ResourceLogs { Resource = resource, ScopeLogs = { current } });
                currentKey = key;
            }

            current.LogRecords.Add(LogRecord.Parser.ParseFrom((byte[])row[2]));
            if (++count % ExportSize == 0)
            {
                store.AddLogs(request);
                request = new ExportLogsServiceRequest();
                current = null;
            }
        }

        store.AddLogs(request);
    }

    private static void LoadMetrics(SqliteConnection connection, TelemetryRepository store, Dictionary<long, OtlpResource> resources,
        Dictionary<long, InstrumentationScope> scopes)
    {
        var instruments = new Dictionary<long, (long Resource, long Scope, Metric Shell)>();
        foreach (var row in Rows(connection, "SELECT id, resource_id, scope_id, shell FROM instruments"))
        {
            instruments.Add((long)row[0], ((long)row[1], (long)row[2], Metric.Parser.ParseFrom((byte[])row[3])));
        }

        // Consecutive points of one instrument go back as one metric; the order of points across instruments is kept.
        var points = new List<byte[]>();
        long currentInstrument = -1;
        var request = new ExportMetricsServiceRequest();
        void Flush()
        {
            if (points.Count == 0)
            {
                return;
            }

            var (resource, scope, shell) = instruments[currentInstrument];
            request.ResourceMetrics.Add(new ResourceMetrics
            {
                Resource = resources[resource],
                ScopeMetrics = { new ScopeMetrics { Scope = scopes[scope], Metrics = { MetricShell.WithPoints(shell, points) } } },
            });
            points.Clear();
            if (request.ResourceMetrics.Count >= ExportSize)
            {
                store.AddMetrics(request);
                request = new ExportMetricsServiceRequest();
            }
        }

        foreach (var row in Rows(connection, "SELECT instrument_id, data FROM points ORDER BY id"))
        {
            var instrument = (long)row[0];
            if (!instruments.TryGetValue(instrument, out var known) || !resources.ContainsKey(known.Resource) || !scopes.ContainsKey(known.Scope))
            {
                continue;
            }

            if (instrument != currentInstrument)
            {
                Flush();
                currentInstrument = instrument;
            }

            points.Add((byte[])row[1]);
        }

        Flush();
        store.AddMetrics(request);
    }

    private static void LoadConsole(SqliteConnection connection, ConsoleLogStore console)
    {
        // Consecutive lines of one resource go in together; the order across resources is kept.
        string? resource = null, displayName = null;
        var lines = new List<(long, string, bool)>();
        foreach (var row in Rows(connection, "SELECT resource, display_name, line_number, content, is_error FROM console_lines ORDER BY id"))
        {
            var name = (string)row[0];
            if (name != resource && resource is not null)
            {
                console.Add(resource, displayName!, lines);
                lines.Clear();
            }

            resource = name;
            displayName = (string)row[1];
            lines.Add(((long)row[2], (string)row[3], (long)row[4] == 1));
        }

        if (resource is not null)
        {
            console.Add(resource, displayName!, lines);
        }
    }

    private static IEnumerable<object[]> Rows(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var row = new object[reader.FieldCount];
            reader.GetValues(row);
            yield return row;
        }
    }
}
