using System.Threading.Channels;
using Google.Protobuf;
using Kiln.Dashboard.Configuration;
using Kiln.Dashboard.Otlp.Proto.Collector.Logs;
using Kiln.Dashboard.Otlp.Proto.Collector.Metrics;
using Kiln.Dashboard.Otlp.Proto.Collector.Trace;
using Kiln.Dashboard.Otlp.Proto.Common;
using Kiln.Dashboard.Otlp.Proto.Metrics;
using Kiln.Dashboard.Otlp.Storage;
using Kiln.Dashboard.ResourceService;
using Microsoft.Data.Sqlite;
using OtlpResource = Kiln.Dashboard.Otlp.Proto.Resource.Resource;

namespace Kiln.Dashboard.Persistence;

/// <summary>
/// Writes the current run to its file behind the receivers' backs: they hand it what the in-memory store kept and go on
/// (write-behind), and one background loop writes what has queued, a transaction per batch, then deletes what a bound
/// pushes out (the same <see cref="TelemetryLimits"/>, oldest first). The queue is bounded by items
/// (<see cref="Capacity"/>, <see cref="RunSettings.WriteQueueCapacity"/>): when it is full a receiver refuses the export (<see cref="TryReserve"/> is false) and the
/// exporter retries later, so nothing acknowledged is dropped and nothing waits on the disk. A stop writes out what
/// is queued before the file is closed.
/// </summary>
internal sealed class RunWriter : IAsyncDisposable
{
    private const int BatchOperations = 64;

    private readonly SqliteConnection _connection;
    private readonly TelemetryLimits _limits;
    private readonly ILogger _log;
    private readonly Channel<RunWrite> _queue = Channel.CreateUnbounded<RunWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<(string Name, string? InstanceId), long> _resourceIds = [];
    private readonly HashSet<(long Resource, TelemetrySignal Signal)> _resourceSignals = [];
    private readonly Dictionary<string, long> _scopeIds = new(StringComparer.Ordinal);
    private readonly Dictionary<(long Resource, long Scope, string Name), long> _instrumentIds = [];
    private readonly Dictionary<string, long> _consoleCounts = new(StringComparer.Ordinal);
    private long _traceCount, _logCount, _pointCount;
    private long _pending;
    private long _refused;
    private Task? _loop;

    private readonly SqliteCommand _insertSpan, _insertTrace, _insertLog, _insertPoint, _insertConsole;

    public RunWriter(SqliteConnection connection, TelemetryLimits limits, ILogger log, int capacity = RunSettings.DefaultWriteQueueCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _connection = connection;
        _limits = limits;
        _log = log;
        _insertSpan = Command("INSERT INTO spans (trace_id, resource_id, scope_id, data) VALUES ($trace, $resource, $scope, $data) RETURNING id",
            "$trace", "$resource", "$scope", "$data");
        _insertTrace = Command("INSERT OR IGNORE INTO traces (trace_id, first_span) VALUES ($trace, $span)", "$trace", "$span");
        _insertLog = Command("INSERT INTO logs (resource_id, scope_id, data) VALUES ($resource, $scope, $data)", "$resource", "$scope", "$data");
        _insertPoint = Command("INSERT INTO points (instrument_id, data) VALUES ($instrument, $data)", "$instrument", "$data");
        _insertConsole = Command("INSERT OR IGNORE INTO console_lines (resource, line_number, content, is_error, display_name) VALUES ($resource, $line, $content, $error, $display)",
            "$resource", "$line", "$content", "$error", "$display");
        LoadState();
    }

    /// <summary>Spans, log records, points and console lines queued at most.</summary>
    public int Capacity { get; }

    /// <summary>How many exports found the queue full and were refused since the start (each is sent again by its exporter).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Items queued and not yet written.</summary>
    public long Pending => Interlocked.Read(ref _pending);

    /// <summary>Takes room for <paramref name="items"/>; false when the queue is full (the caller refuses the export).</summary>
    public bool TryReserve(int items)
    {
        // An export larger than the whole queue still goes in when the queue is empty, or it could never be taken.
        var after = Interlocked.Add(ref _pending, items);
        if (after > Capacity && after > items)
        {
            Interlocked.Add(ref _pending, -items);
            Interlocked.Increment(ref _refused);
            return false;
        }

        return true;
    }

    /// <summary>Takes room whether or not there is any: for console lines, which no exporter would send again.</summary>
    public void Reserve(int items) => Interlocked.Add(ref _pending, items);

    /// <summary>Gives back room taken and not used (the store kept nothing: the signal is paused).</summary>
    public void Release(int items) => Interlocked.Add(ref _pending, -items);

    /// <summary>Queues a write whose room was reserved (<paramref name="write"/>.Items of it).</summary>
    public void Enqueue(RunWrite write)
    {
        if (!_queue.Writer.TryWrite(write))
        {
            // Only after a stop began: the file is being closed, what still arrives is not written.
            Release(write.Items);
        }
    }

    /// <summary>Completes when everything queued before the call is written (tests, and the measurements).</summary>
    public Task FlushAsync()
    {
        var done = new RunWrite.Flush();
        Enqueue(done);
        return done.Written.Task;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = Task.Factory.StartNew(WriteLoopAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Writer.TryComplete();
        if (_loop is not null)
        {
            await _loop.WaitAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        foreach (var command in new[] { _insertSpan, _insertTrace, _insertLog, _insertPoint, _insertConsole })
        {
            command.Dispose();
        }

        await _connection.DisposeAsync();
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<RunWrite>(BatchOperations);
        while (await _queue.Reader.WaitToReadAsync())
        {
            while (batch.Count < BatchOperations && _queue.Reader.TryRead(out var write))
            {
                batch.Add(write);
            }

            try
            {
                WriteBatch(batch);
            }
            catch (Exception ex) when (ex is SqliteException or IOException or InvalidOperationException)
            {
                // A full disk or a deleted folder must not stop the live view: the batch is lost from the file, and said
                // so. What this writer remembered of the file (ids, counts) may name rows the rollback took back: read again.
                _log.LogError(ex, "The dashboard could not write {Count} operations to its run file", batch.Count);
                Reload();
            }

            var items = 0;
            foreach (var write in batch)
            {
                items += write.Items;
                (write as RunWrite.Flush)?.Written.TrySetResult();
            }

            Release(items);
            batch.Clear();
        }
    }

    private void WriteBatch(List<RunWrite> batch)
    {
        using var transaction = _connection.BeginTransaction();
        foreach (var command in new[] { _insertSpan, _insertTrace, _insertLog, _insertPoint, _insertConsole })
        {
            command.Transaction = transaction;
        }

        var consoleTouched = new HashSet<string>(StringComparer.Ordinal);
        foreach (var write in batch)
        {
            switch (write)
            {
                case RunWrite.Traces traces: WriteTraces(traces.Request, transaction); break;
                case RunWrite.Logs logs: WriteLogs(logs.Request, transaction); break;
                case RunWrite.Metrics metrics: WriteMetrics(metrics.Request, transaction); break;
                case RunWrite.Console console:
                    WriteConsole(console.DisplayName, console.Lines);
                    consoleTouched.Add(console.ResourceName);
                    break;
                case RunWrite.Clear clear: WriteClear(clear.Signal, transaction); break;
            }
        }

        Bound(transaction, consoleTouched);
        transaction.Commit();
    }

    private void WriteTraces(ExportTraceServiceRequest request, SqliteTransaction transaction) =>
        ForEachItem(request.ResourceSpans, TelemetrySignal.Traces, transaction, r => (r.Resource, r.ScopeSpans), s => (s.Scope, s.Spans),
            (resource, scope, span) =>
            {
                var traceId = Convert.ToHexStringLower(span.TraceId.Span);
                var spanRow = (long)With(_insertSpan, traceId, resource, scope, span.ToByteArray()).ExecuteScalar()!;
                _traceCount += With(_insertTrace, traceId, spanRow).ExecuteNonQuery();
            });

    private void WriteLogs(ExportLogsServiceRequest request, SqliteTransaction transaction) =>
        ForEachItem(request.ResourceLogs, TelemetrySignal.Logs, transaction, r => (r.Resource, r.ScopeLogs), s => (s.Scope, s.LogRecords),
            (resource, scope, record) => _logCount += With(_insertLog, resource, scope, record.ToByteArray()).ExecuteNonQuery());

    private void WriteMetrics(ExportMetricsServiceRequest request, SqliteTransaction transaction) =>
        ForEachItem(request.ResourceMetrics, TelemetrySignal.Metrics, transaction, r => (r.Resource, r.ScopeMetrics), s => (s.Scope, s.Metrics),
            (resource, scope, metric) =>
            {
                var instrument = InstrumentId(resource, scope, metric, transaction);
                foreach (var point in MetricShell.Points(metric))
                {
                    _pointCount += With(_insertPoint, instrument, point.ToByteArray()).ExecuteNonQuery();
                }
            });

    /// <summary>
    /// Calls <paramref name="write"/> for each item of an export (span, log record, metric) with the row ids of its
    /// resource and scope, which are added when new: the walk every OTLP export shares, resource → scope → items.
    /// </summary>
    private void ForEachItem<TResourceItems, TScopeItems, TItem>(IEnumerable<TResourceItems> byResource, TelemetrySignal signal, SqliteTransaction transaction,
        Func<TResourceItems, (OtlpResource? Resource, IEnumerable<TScopeItems> Scopes)> resourceOf,
        Func<TScopeItems, (InstrumentationScope? Scope, IEnumerable<TItem> Items)> scopeOf,
        Action<long, long, TItem> write)
    {
        foreach (var resourceItems in byResource)
        {
            var (otlpResource, scopes) = resourceOf(resourceItems);
            var resource = ResourceId(otlpResource, signal, transaction);
            foreach (var scopeItems in scopes)
            {
                var (otlpScope, items) = scopeOf(scopeItems);
                var scope = ScopeId(otlpScope, transaction);
                foreach (var item in items)
                {
                    write(resource, scope, item);
                }
            }
        }
    }

    private void WriteConsole(string displayName, IReadOnlyList<StoredConsoleLine> lines)
    {
        foreach (var line in lines)
        {
            if (With(_insertConsole, line.ResourceName, line.LineNumber, line.Content, line.IsError ? 1 : 0, displayName).ExecuteNonQuery() == 1)
            {
                _consoleCounts[line.ResourceName] = _consoleCounts.GetValueOrDefault(line.ResourceName) + 1;
            }
        }
    }

    /// <summary>A prepared command with its parameters set, in the order they were declared.</summary>
    private static SqliteCommand With(SqliteCommand command, params object?[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i] ?? DBNull.Value;
        }

        return command;
    }

    private void WriteClear(TelemetrySignal signal, SqliteTransaction transaction)
    {
        switch (signal)
        {
            case TelemetrySignal.Traces:
                Execute(transaction, "DELETE FROM spans; DELETE FROM traces;");
                _traceCount = 0;
                break;
            case TelemetrySignal.Logs:
                Execute(transaction, "DELETE FROM logs;");
                _logCount = 0;
                break;
            case TelemetrySignal.Metrics:
                Execute(transaction, "DELETE FROM points; DELETE FROM instruments;");
                _instrumentIds.Clear();
                _pointCount = 0;
                break;
        }
    }

    /// <summary>The run's bounds, as the in-memory store keeps them: the oldest traces, logs, points and console lines out first.</summary>
    private void Bound(SqliteTransaction transaction, HashSet<string> consoleTouched)
    {
        if (_traceCount > _limits.MaxTraceCount)
        {
            var excess = _traceCount - _limits.MaxTraceCount;
            Execute(transaction, """
                CREATE TEMP TABLE IF NOT EXISTS dropped_traces (trace_id TEXT PRIMARY KEY);
                DELETE FROM dropped_traces;
                INSERT INTO dropped_traces SELECT trace_id FROM traces ORDER BY first_span LIMIT $excess;
                DELETE FROM spans WHERE trace_id IN (SELECT trace_id FROM dropped_traces);
                DELETE FROM traces WHERE trace_id IN (SELECT trace_id FROM dropped_traces);
                """, ("$excess", excess));
            _traceCount -= excess;
        }

        if (_logCount > _limits.MaxLogCount)
        {
            var excess = _logCount - _limits.MaxLogCount;
            Execute(transaction, "DELETE FROM logs WHERE id IN (SELECT id FROM logs ORDER BY id LIMIT $excess)", ("$excess", excess));
            _logCount -= excess;
        }

        if (_pointCount > _limits.MaxMetricsCount)
        {
            var excess = _pointCount - _limits.MaxMetricsCount;
            Execute(transaction, "DELETE FROM points WHERE id IN (SELECT id FROM points ORDER BY id LIMIT $excess)", ("$excess", excess));
            _pointCount -= excess;
        }

        foreach (var resource in consoleTouched)
        {
            var count = _consoleCounts.GetValueOrDefault(resource);
            if (count > _limits.MaxConsoleLogCount)
            {
                var excess = count - _limits.MaxConsoleLogCount;
                Execute(transaction, "DELETE FROM console_lines WHERE id IN (SELECT id FROM console_lines WHERE resource = $resource ORDER BY id LIMIT $excess)",
                    ("$excess", excess), ("$resource", resource));
                _consoleCounts[resource] = count - excess;
            }
        }
    }

    private long ResourceId(OtlpResource? resource, TelemetrySignal signal, SqliteTransaction transaction)
    {
        resource ??= new OtlpResource();
        var key = TelemetryResourceKey.Of(resource);
        if (!_resourceIds.TryGetValue(key, out var id))
        {
            id = Insert(transaction, "INSERT INTO resources (name, instance_id, data) VALUES ($name, $instance, $data) RETURNING id",
                ("$name", key.Name), ("$instance", key.InstanceId), ("$data", resource.ToByteArray()));
            _resourceIds.Add(key, id);
        }

        if (_resourceSignals.Add((id, signal)))
        {
            var column = signal switch { TelemetrySignal.Logs => "has_logs", TelemetrySignal.Traces => "has_traces", _ => "has_metrics" };
            Execute(transaction, $"UPDATE resources SET {column} = 1 WHERE id = $id", ("$id", id));
        }

        return id;
    }

    private long ScopeId(InstrumentationScope? scope, SqliteTransaction transaction)
    {
        var bytes = (scope ?? new InstrumentationScope()).ToByteArray();
        var key = Convert.ToBase64String(bytes);
        if (!_scopeIds.TryGetValue(key, out var id))
        {
            id = Insert(transaction, "INSERT INTO scopes (data) VALUES ($data) RETURNING id", ("$data", bytes));
            _scopeIds.Add(key, id);
        }

        return id;
    }

    private long InstrumentId(long resource, long scope, Metric metric, SqliteTransaction transaction)
    {
        if (!_instrumentIds.TryGetValue((resource, scope, metric.Name), out var id))
        {
            id = Insert(transaction, "INSERT INTO instruments (resource_id, scope_id, name, shell) VALUES ($resource, $scope, $name, $shell) RETURNING id",
                ("$resource", resource), ("$scope", scope), ("$name", metric.Name), ("$shell", MetricShell.Of(metric).ToByteArray()));
            _instrumentIds.Add((resource, scope, metric.Name), id);
        }

        return id;
    }

    private void Reload()
    {
        _resourceIds.Clear();
        _resourceSignals.Clear();
        _scopeIds.Clear();
        _instrumentIds.Clear();
        _consoleCounts.Clear();
        try
        {
            LoadState();
        }
        catch (SqliteException ex)
        {
            _log.LogError(ex, "The dashboard could not read its run file back after a failed write");
        }
    }

    /// <summary>What a reopened file already holds: ids to reuse and counts to bound.</summary>
    private void LoadState()
    {
        using (var resources = _connection.CreateCommand())
        {
            resources.CommandText = "SELECT id, data, has_logs, has_traces, has_metrics FROM resources";
            using var reader = resources.ExecuteReader();
            while (reader.Read())
            {
                var id = reader.GetInt64(0);
                _resourceIds[TelemetryResourceKey.Of(OtlpResource.Parser.ParseFrom((byte[])reader[1]))] = id;
                foreach (var (column, signal) in new[] { (2, TelemetrySignal.Logs), (3, TelemetrySignal.Traces), (4, TelemetrySignal.Metrics) })
                {
                    if (reader.GetInt64(column) == 1)
                    {
                        _resourceSignals.Add((id, signal));
                    }
                }
            }
        }

        using (var scopes = _connection.CreateCommand())
        {
            scopes.CommandText = "SELECT id, data FROM scopes";
            using var reader = scopes.ExecuteReader();
            while (reader.Read())
            {
                _scopeIds[Convert.ToBase64String((byte[])reader[1])] = reader.GetInt64(0);
            }
        }

        using (var instruments = _connection.CreateCommand())
        {
            instruments.CommandText = "SELECT id, resource_id, scope_id, name FROM instruments";
            using var reader = instruments.ExecuteReader();
            while (reader.Read())
            {
                _instrumentIds[(reader.GetInt64(1), reader.GetInt64(2), reader.GetString(3))] = reader.GetInt64(0);
            }
        }

        using (var console = _connection.CreateCommand())
        {
            console.CommandText = "SELECT resource, COUNT(*) FROM console_lines GROUP BY resource";
            using var reader = console.ExecuteReader();
            while (reader.Read())
            {
                _consoleCounts[reader.GetString(0)] = reader.GetInt64(1);
            }
        }

        _traceCount = RunDatabase.Scalar(_connection, "SELECT COUNT(*) FROM traces");
        _logCount = RunDatabase.Scalar(_connection, "SELECT COUNT(*) FROM logs");
        _pointCount = RunDatabase.Scalar(_connection, "SELECT COUNT(*) FROM points");
    }

    private SqliteCommand Command(string sql, params string[] parameters)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        return command;
    }

    private void Execute(SqliteTransaction transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = OneOff(transaction, sql, parameters);
        command.ExecuteNonQuery();
    }

    /// <summary>Runs an <c>INSERT … RETURNING id</c>; the new row's id.</summary>
    private long Insert(SqliteTransaction transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = OneOff(transaction, sql, parameters);
        return (long)command.ExecuteScalar()!;
    }

    private SqliteCommand OneOff(SqliteTransaction transaction, string sql, (string Name, object? Value)[] parameters)
    {
        var command = _connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }
}

/// <summary>One thing for the writer to do, and how many items of the queue's room it holds.</summary>
internal abstract record RunWrite(int Items)
{
    public sealed record Traces(ExportTraceServiceRequest Request, int Count) : RunWrite(Count);

    public sealed record Logs(ExportLogsServiceRequest Request, int Count) : RunWrite(Count);

    public sealed record Metrics(ExportMetricsServiceRequest Request, int Count) : RunWrite(Count);

    public sealed record Console(string ResourceName, string DisplayName, IReadOnlyList<StoredConsoleLine> Lines) : RunWrite(Lines.Count);

    public sealed record Clear(TelemetrySignal Signal) : RunWrite(0);

    public sealed record Flush() : RunWrite(0)
    {
        public TaskCompletionSource Written { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
