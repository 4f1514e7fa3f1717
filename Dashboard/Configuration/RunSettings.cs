using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace Kiln.Dashboard.Configuration;

/// <summary>
/// Where the dashboard keeps its runs, and which run this process is. <c>Dashboard:Storage:Path</c> names the folder
/// (absent: <c>kiln/dashboard</c> under the user's data folder; empty: memory only). <c>Dashboard:Run:Id</c> and
/// <c>Dashboard:Run:StartedAt</c> (ISO 8601) are handed by the AppHost, the same to every start of the dashboard within
/// one AppHost run, so a restarted dashboard reopens its run; a dashboard started alone makes a new run each start.
/// </summary>
internal sealed partial record RunSettings
{
    /// <summary>How many runs are kept on disk, the current one included; older ones are deleted at start.</summary>
    public const int KeptRuns = 10;

    /// <summary>The folder of the run files, or null when nothing is written (memory only).</summary>
    public string? StoragePath { get; init; }

    /// <summary>
    /// How many items (spans, log records, points, console lines) the run file's writer may have queued
    /// (<c>Dashboard:Storage:WriteQueueCapacity</c>); an export that finds no room is refused as retryable throttling.
    /// </summary>
    public int WriteQueueCapacity { get; init; } = DefaultWriteQueueCapacity;

    /// <summary>About two seconds of a flood at the rates measured.</summary>
    public const int DefaultWriteQueueCapacity = 200_000;

    /// <summary>True when no path was configured and the default under the user's data folder is used.</summary>
    public bool DefaultPath { get; init; }

    public required string RunId { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>True when the run was handed (by the AppHost), false when this start made it up.</summary>
    public bool Handed { get; init; }

    public static RunSettings Read(IConfiguration configuration, TimeProvider time)
    {
        var path = configuration["Dashboard:Storage:Path"];
        var usesDefault = path is null;
        if (usesDefault)
        {
            var data = Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.DoNotVerify);
            path = string.IsNullOrEmpty(data) ? "" : Path.Combine(data, "kiln", "dashboard");
        }

        var id = configuration["Dashboard:Run:Id"];
        var startedText = configuration["Dashboard:Run:StartedAt"];
        DateTimeOffset startedAt;
        if (string.IsNullOrEmpty(id))
        {
            if (!string.IsNullOrEmpty(startedText))
            {
                throw new DashboardConfigurationException("Dashboard:Run:StartedAt is set without Dashboard:Run:Id; hand both, or neither.");
            }

            startedAt = time.GetUtcNow();
            id = NewRunId(startedAt);
        }
        else
        {
            if (!IsRunId(id))
            {
                throw new DashboardConfigurationException(
                    $"Dashboard:Run:Id is '{id}'; it must be 1 to 64 of A-Z, a-z, 0-9, '-', '_' or '.', starting with a letter or digit.");
            }

            if (string.IsNullOrEmpty(startedText))
            {
                startedAt = time.GetUtcNow();
            }
            else if (!DateTimeOffset.TryParse(startedText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out startedAt))
            {
                throw new DashboardConfigurationException($"Dashboard:Run:StartedAt is '{startedText}'; it must be an ISO 8601 time such as 2026-11-24T17:00:00Z.");
            }
        }

        var capacityText = configuration["Dashboard:Storage:WriteQueueCapacity"];
        var capacity = DefaultWriteQueueCapacity;
        if (!string.IsNullOrEmpty(capacityText)
            && (!int.TryParse(capacityText, NumberStyles.None, CultureInfo.InvariantCulture, out capacity) || capacity < 1))
        {
            throw new DashboardConfigurationException($"Dashboard:Storage:WriteQueueCapacity is '{capacityText}'; it must be a whole number of items, at least 1.");
        }

        return new RunSettings
        {
            WriteQueueCapacity = capacity,
            StoragePath = string.IsNullOrEmpty(path) ? null : Path.GetFullPath(path),
            DefaultPath = usesDefault,
            RunId = id,
            StartedAt = startedAt.ToUniversalTime(),
            Handed = !string.IsNullOrEmpty(configuration["Dashboard:Run:Id"]),
        };
    }

    /// <summary>A run id is also its file's name: letters, digits, '-', '_', '.', never a path.</summary>
    public static bool IsRunId(string id) => RunIdPattern().IsMatch(id);

    /// <summary><c>20261124-170000-k3x9q2</c>: sorts by start time, and two starts in one second still differ.</summary>
    public static string NewRunId(DateTimeOffset startedAt) =>
        startedAt.UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-"
        + RandomNumberGenerator.GetString("abcdefghijklmnopqrstuvwxyz0123456789", 6);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex RunIdPattern();
}
