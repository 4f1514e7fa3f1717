using System.Globalization;
using Kiln.Dashboard.Otlp.Proto.Logs;
using Kiln.Dashboard.Configuration;
using Kiln.Dashboard.Otlp.Storage;
using Kiln.Dashboard.Persistence;
using Kiln.Dashboard.ResourceService;

namespace Kiln.Dashboard.Api;

/// <summary>
/// The query parameters of the telemetry HTTP API, read and checked as Aspire's dashboard takes them
/// (<c>resource</c> repeated, <c>traceId</c>, <c>hasError</c>, <c>severity</c>, <c>limit</c>, <c>follow</c>,
/// <c>runId</c>; for console logs <c>search</c> and <c>includeHidden</c>). A value that cannot be read is a 400 with the
/// reason, never ignored.
/// </summary>
internal sealed class TelemetryApiQuery
{
    private readonly IQueryCollection _query;
    private readonly List<string> _problems = [];

    public TelemetryApiQuery(IQueryCollection query)
    {
        _query = query;
        ResourceNames = [.. query["resource"].Where(r => !string.IsNullOrWhiteSpace(r)).Select(r => r!.Trim())];
        TraceId = query["traceId"].ToString() is { Length: > 0 } traceId ? traceId.Trim() : null;
        HasError = Bool("hasError");
        Follow = Bool("follow") ?? false;
        RunId = query["runId"].ToString() is { Length: > 0 } runId ? runId : null;
        Search = query["search"].ToString() is { Length: > 0 } search ? search : null;
        IncludeHidden = Bool("includeHidden") ?? false;
        if (query["limit"].ToString() is { Length: > 0 } limit)
        {
            if (int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value > 0)
            {
                Limit = value;
            }
            else
            {
                _problems.Add($"limit is '{limit}'; it must be a whole number above 0.");
            }
        }

        if (query["severity"].ToString() is { Length: > 0 } severity)
        {
            MinSeverity = Severity(severity);
            if (MinSeverity is null)
            {
                _problems.Add($"severity is '{severity}'; it must be one of Trace, Debug, Information, Warning, Error, Critical.");
            }
        }
    }

    public IReadOnlyList<string> ResourceNames { get; }

    public string? TraceId { get; }

    public bool? HasError { get; }

    public SeverityNumber? MinSeverity { get; }

    public int? Limit { get; }

    public bool Follow { get; }

    public string? RunId { get; }

    public string? Search { get; }

    /// <summary>Accepted as Aspire's; Kiln's AppHost hides no resource, so it changes nothing.</summary>
    public bool IncludeHidden { get; }

    /// <summary>
    /// The run the query reads (the current one, or the past one <c>runId</c> names), or the 400 or 404 it must get
    /// instead of data.
    /// </summary>
    public async Task<(IResult? Refusal, RunView Run)> ResolveAsync(TelemetryRuns runs, CancellationToken cancellationToken, bool consoleLogs = false)
    {
        var current = new RunView(runs.Current, runs.CurrentConsole);
        if (_problems.Count > 0)
        {
            return (Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request", detail: string.Join(" ", _problems)), current);
        }

        var run = current;
        if (RunId is not null && RunId != runs.CurrentRunId)
        {
            if (!RunSettings.IsRunId(RunId))
            {
                return (Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request",
                    detail: $"runId is '{RunId}'; a run id is 1 to 64 of A-Z, a-z, 0-9, '-', '_' or '.' (GET /api/runs lists them)."), current);
            }

            if (Follow)
            {
                return (Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request",
                    detail: "follow=true cannot be combined with the runId of a past run: only the current run streams."), current);
            }

            if (await runs.OpenPastAsync(RunId, cancellationToken) is not { } past)
            {
                return (Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Run not found",
                    detail: runs.IsPersistent
                        ? $"No run '{RunId}' is kept; the last {RunSettings.KeptRuns} runs are (GET /api/runs lists them)."
                        : $"No run '{RunId}' is kept; this dashboard keeps the current run only (Dashboard:Storage:Path is empty)."), current);
            }

            run = new RunView(past.Store, past.Console);
        }

        // A stream waits for a resource that has not reported yet; a snapshot says it does not know it.
        if (!Follow && ResourceNames.FirstOrDefault(name => consoleLogs ? !run.Console.Knows(name) : run.Store.FindResources(name).Count == 0) is { } unknown)
        {
            return (Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Resource not found",
                detail: consoleLogs
                    ? $"No console line has come from a resource named '{unknown}' in this run."
                    : $"No telemetry has come from a resource named '{unknown}' in this run; GET /api/telemetry/resources lists those that sent some."), run);
        }

        return (null, run);
    }

    private bool? Bool(string name)
    {
        var text = _query[name].ToString();
        if (text.Length == 0)
        {
            return null;
        }

        if (bool.TryParse(text, out var value))
        {
            return value;
        }

        _problems.Add($"{name} is '{text}'; it must be true or false.");
        return null;
    }

    /// <summary>A .NET log level name to the lowest OTLP severity number of that level (OTLP's ranges of four).</summary>
    internal static SeverityNumber? Severity(string level) => level.ToUpperInvariant() switch
    {
        "TRACE" => SeverityNumber.Trace,
        "DEBUG" => SeverityNumber.Debug,
        "INFORMATION" => SeverityNumber.Info,
        "WARNING" => SeverityNumber.Warn,
        "ERROR" => SeverityNumber.Error,
        "CRITICAL" => SeverityNumber.Fatal,
        _ => null,
    };
}

/// <summary>One run's stores, as a query reads them: its telemetry and its console lines.</summary>
internal sealed record RunView(ITelemetryStore Store, ConsoleLogStore Console);
