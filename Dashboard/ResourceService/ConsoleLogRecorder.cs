using Grpc.Core;
using Kiln.Dashboard.Persistence;

namespace Kiln.Dashboard.ResourceService;

/// <summary>
/// Keeps every resource's console output for the run, whether or not a page shows it: one watch per resource the
/// catalog lists, into the current run's <see cref="ConsoleLogStore"/> and from there to the run file. When a watch ends
/// (the AppHost dropped it, the resource is being restarted) it is opened again; the AppHost then sends its kept lines
/// once more, and the store keeps only the line numbers it has not seen.
/// </summary>
internal sealed class ConsoleLogRecorder(ResourceCatalog catalog, TelemetryRuns runs, ILogger<ConsoleLogRecorder> log) : BackgroundService
{
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!catalog.IsConfigured)
        {
            return;
        }

        var watching = new Dictionary<string, Task>(StringComparer.Ordinal);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var version = catalog.Version;
                foreach (var resource in catalog.Resources)
                {
                    if (!watching.TryGetValue(resource.Name, out var task) || task.IsCompleted)
                    {
                        watching[resource.Name] = WatchAsync(resource.Name, resource.DisplayName is { Length: > 0 } d ? d : resource.Name, stoppingToken);
                    }
                }

                await catalog.WaitForChangeAsync(version, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await Task.WhenAll(watching.Values);
    }

    /// <summary>Follows one resource until it leaves the catalog or the dashboard stops.</summary>
    private async Task WatchAsync(string name, string displayName, CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested && catalog.Find(name) is not null)
        {
            try
            {
                await foreach (var lines in catalog.WatchConsoleLogsAsync(name, stoppingToken))
                {
                    var added = runs.CurrentConsole.Add(name, displayName, lines.Select(l => (l.LineNumber, l.Text, l.IsStdErr)));
                    if (added.Count > 0 && runs.Writer is { } writer)
                    {
                        writer.Reserve(added.Count);
                        writer.Enqueue(new RunWrite.Console(name, displayName, added));
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException ex) when (ex.StatusCode == StatusCode.Cancelled && stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException ex)
            {
                log.LogDebug("Console watch of {Resource} ended ({Status}); watching again", name, ex.StatusCode);
            }

            try
            {
                await Task.Delay(RetryAfter, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
