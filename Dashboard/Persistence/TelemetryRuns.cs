using Kiln.Dashboard.Configuration;
using Kiln.Dashboard.Otlp.Storage;
using Kiln.Dashboard.ResourceService;
using Microsoft.Data.Sqlite;

namespace Kiln.Dashboard.Persistence;

/// <summary>A past run read back from its file: read-only stores of its telemetry and console lines.</summary>
internal sealed record PastRun(RunSummary Summary, ITelemetryStore Store, ConsoleLogStore Console);

/// <summary>
/// The runs this dashboard knows: the current one (the live stores, written to <c>{storage}/runs/{runId}.db</c> when a
/// storage folder is configured) and up to <see cref="RunSettings.KeptRuns"/> − 1 past ones. At start it reopens the
/// current run's file when it exists (the dashboard restarted within one AppHost run) and deletes the oldest files
/// beyond the bound. A past run is read from its file when first asked for; the last one asked for stays loaded until
/// nobody has asked for it for <see cref="UnloadAfter"/>, so browsing an old run does not hold its memory for good.
/// </summary>
internal sealed class TelemetryRuns : IAsyncDisposable
{
    private readonly TelemetryLimits _limits;
    private readonly Dictionary<string, RunSummary> _past;
    /// <summary>How long a loaded past run stays in memory after it was last asked for.</summary>
    public static readonly TimeSpan UnloadAfter = TimeSpan.FromMinutes(5);

    private readonly SemaphoreSlim _loadGate = new(1, 1);
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly ITimer _unloader;
    private PastRun? _loaded;
    private long _lastAsked;

    private TelemetryRuns(RunSettings settings, TelemetryLimits limits, ITelemetryStore current, ConsoleLogStore console, RunWriter? writer,
        IEnumerable<RunSummary> past, bool reopened, TimeProvider time, ILogger log)
    {
        _time = time;
        _log = log;
        _unloader = time.CreateTimer(_ => UnloadIfIdle(), null, UnloadAfter / 5, UnloadAfter / 5);
        Settings = settings;
        _limits = limits;
        Current = current;
        CurrentConsole = console;
        Writer = writer;
        Reopened = reopened;
        _past = past.ToDictionary(r => r.RunId, StringComparer.Ordinal);
    }

    public RunSettings Settings { get; }

    public string CurrentRunId => Settings.RunId;

    /// <summary>The current run's store: every receiver writes to it.</summary>
    public ITelemetryStore Current { get; }

    public ConsoleLogStore CurrentConsole { get; }

    /// <summary>The writer of the current run's file; null when the dashboard keeps memory only.</summary>
    public RunWriter? Writer { get; }

    public bool IsPersistent => Writer is not null;

    /// <summary>True when the current run's file existed and was read back at start.</summary>
    public bool Reopened { get; }

    public string? RunsFolder => Settings.StoragePath is { } path ? Path.Combine(path, "runs") : null;

    /// <summary>The current run's summary, counted from the live stores.</summary>
    public RunSummary CurrentSummary()
    {
        var counts = Current.GetCounts();
        return new RunSummary(Settings.RunId, Settings.StartedAt, counts.Traces, counts.Spans, counts.Logs, counts.MetricPoints, CurrentConsole.Count);
    }

    /// <summary>The kept past runs, newest first.</summary>
    public IReadOnlyList<RunSummary> Past => [.. _past.Values.OrderByDescending(r => r.StartedAt).ThenByDescending(r => r.RunId, StringComparer.Ordinal)];

    public bool IsKnownPast(string runId) => _past.ContainsKey(runId);

    /// <summary>A past run's stores, read from its file on first use; null when no such run is kept.</summary>
    public async Task<PastRun?> OpenPastAsync(string runId, CancellationToken cancellationToken)
    {
        if (!_past.TryGetValue(runId, out var summary) || RunsFolder is not { } folder)
        {
            return null;
        }

        Interlocked.Exchange(ref _lastAsked, _time.GetTimestamp());
        if (_loaded is { } loaded && loaded.Summary.RunId == runId)
        {
            return loaded;
        }

        await _loadGate.WaitAsync(cancellationToken);
        try
        {
            if (_loaded is { } again && again.Summary.RunId == runId)
            {
                return again;
            }

            // Reading tens of thousands of rows is a blocking job: off the request's thread.
            _loaded = null;
            try
            {
                _loaded = await Task.Run(() =>
                {
                    var store = new TelemetryRepository(_limits);
                    var console = new ConsoleLogStore(_limits.MaxConsoleLogCount);
                    using var connection = RunDatabase.OpenForReading(RunDatabase.FileFor(folder, runId));
                    RunReader.Load(connection, store, console);
                    return new PastRun(summary, new ReadOnlyTelemetryStore(store), console);
                }, cancellationToken);
            }
            catch (Exception ex) when (ex is SqliteException or IOException or Google.Protobuf.InvalidProtocolBufferException)
            {
                // Deleted or damaged since the dashboard started: answered as a run not kept, and said so here.
                _log.LogWarning(ex, "Run {RunId} could not be read from its file", runId);
                return null;
            }

            return _loaded;
        }
        finally
        {
            _loadGate.Release();
        }
    }

    /// <summary>Whether a past run is held in memory now (<see cref="UnloadAfter"/>).</summary>
    public bool HasLoadedPastRun => _loaded is not null;

    private void UnloadIfIdle()
    {
        if (_loaded is not null && _time.GetElapsedTime(Interlocked.Read(ref _lastAsked)) >= UnloadAfter && _loadGate.Wait(0))
        {
            try
            {
                _loaded = null;
            }
            finally
            {
                _loadGate.Release();
            }
        }
    }

    /// <summary>What is added to the name of a run file that could not be reopened: <c>{runId}.db.damaged</c>.</summary>
    public const string DamagedSuffix = ".damaged";

    public static TelemetryRuns Open(RunSettings settings, TelemetryLimits limits, ILogger log, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        var memory = new TelemetryRepository(limits);
        var console = new ConsoleLogStore(limits.MaxConsoleLogCount);
        if (settings.StoragePath is not { } storage)
        {
            return new TelemetryRuns(settings, limits, memory, console, writer: null, past: [], reopened: false, time, log);
        }

        var folder = Path.Combine(storage, "runs");
        Directory.CreateDirectory(folder);
        var currentFile = RunDatabase.FileFor(folder, settings.RunId);
        // Every file of a run counts among the kept ones: the readable runs by their start, and those that cannot be
        // read (a file set aside as .damaged, or one that is not a run file) by when they were last written — so they
        // too go, oldest first, rather than pile up for ever.
        var past = new List<(RunSummary Summary, string File)>();
        var held = new List<(DateTimeOffset When, string File, string What)>();
        foreach (var file in Directory.EnumerateFiles(folder, "*" + RunDatabase.Extension).Concat(Directory.EnumerateFiles(folder, "*" + RunDatabase.Extension + DamagedSuffix)))
        {
            if (string.Equals(file, currentFile, StringComparison.Ordinal))
            {
                continue;
            }

            if (file.EndsWith(DamagedSuffix, StringComparison.Ordinal))
            {
                held.Add((File.GetLastWriteTimeUtc(file), file, "a damaged run file set aside"));
                continue;
            }

            try
            {
                using var connection = RunDatabase.OpenForReading(file);
                var summary = RunReader.ReadSummary(connection);
                past.Add((summary, file));
                held.Add((summary.StartedAt, file, $"run {summary.RunId} (started {summary.StartedAt:O})"));
            }
            catch (Exception ex) when (ex is SqliteException or InvalidDataException or FormatException)
            {
                log.LogWarning("Skipping {File}: it is not a readable run file ({Reason})", file, ex.Message);
                held.Add((File.GetLastWriteTimeUtc(file), file, "an unreadable run file"));
            }
        }

        // The current run counts among the kept ones: the newest others fill the rest.
        var deleted = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (_, file, what) in held.OrderByDescending(h => h.When).Skip(RunSettings.KeptRuns - 1))
        {
            RunDatabase.Delete(file);
            deleted.Add(file);
            log.LogInformation("Deleted {What}, {File}: only the last {Kept} runs are kept", what, file, RunSettings.KeptRuns);
        }

        var ordered = past.Where(p => !deleted.Contains(p.File)).OrderByDescending(p => p.Summary.StartedAt).ToList();

        var reopened = File.Exists(currentFile);
        SqliteConnection? writing = null;
        try
        {
            writing = RunDatabase.OpenForWriting(currentFile, settings.RunId, settings.StartedAt);
            if (reopened)
            {
                RunReader.Load(writing, memory, console);
            }
        }
        catch (Exception ex) when (reopened && ex is SqliteException or InvalidDataException or Google.Protobuf.InvalidProtocolBufferException)
        {
            // A damaged file must not keep the dashboard from starting (the AppHost would restart it for ever): it is set
            // aside, and the run goes on in a new file.
            writing?.Dispose();
            var aside = currentFile + DamagedSuffix;
            log.LogError(ex, "Run {RunId}'s file could not be reopened; it is kept as {Aside} and the run starts afresh", settings.RunId, aside);
            File.Move(currentFile, aside, overwrite: true);
            File.Delete(currentFile + "-wal");
            File.Delete(currentFile + "-shm");
            memory = new TelemetryRepository(limits);
            console = new ConsoleLogStore(limits.MaxConsoleLogCount);
            reopened = false;
            writing = RunDatabase.OpenForWriting(currentFile, settings.RunId, settings.StartedAt);
        }

        var writer = new RunWriter(writing, limits, log, settings.WriteQueueCapacity);
        return new TelemetryRuns(settings, limits, new PersistentTelemetryStore(memory, writer), console, writer,
            ordered.Select(p => p.Summary), reopened, time, log);
    }

    public async ValueTask DisposeAsync()
    {
        await _unloader.DisposeAsync();
        if (Writer is not null)
        {
            await Writer.DisposeAsync();
        }

        _loadGate.Dispose();
    }
}
