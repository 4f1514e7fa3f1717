using System.Globalization;
using Kiln.Dashboard.Otlp.Proto.Logs;
using Kiln.Dashboard.Otlp.Storage;

namespace Kiln.Dashboard.Api;

/// <summary>
/// The query parameters of the telemetry HTTP API, read and checked as Aspire's dashboard takes them
/// (<c>resource</c> repeated, <c>traceId</c>, <c>hasError</c>, <c>severity</c>, <c>limit</c>, <c>follow</c>,
/// <c>runId</c>). A value that cannot be read is a 400 with the reason, never ignored.
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

    /// <summary>The 400 or 404 this query must get instead of data, or null when it can be answered.</summary>
    public IResult? Refusal(ITelemetryStore store)
    {
        if (_problems.Count > 0)
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request", detail: string.Join(" ", _problems));
        }

        if (RunId is not null)
        {
            // Only the current run is kept (no persistence yet), so every run id is unknown, as Aspire answers an expired one.
            return Follow
                ? Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Bad request", detail: "follow=true cannot be combined with runId: only the current run streams.")
                : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Run not found", detail: $"No run '{RunId}' is kept; this dashboard keeps the current run only.");
        }

        // A stream waits for a resource that has not reported yet; a snapshot says it does not know it.
        if (!Follow && ResourceNames.FirstOrDefault(name => store.FindResources(name).Count == 0) is { } unknown)
        {
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Resource not found",
                detail: $"No telemetry has come from a resource named '{unknown}'; GET /api/telemetry/resources lists those that sent some.");
        }

        return null;
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
