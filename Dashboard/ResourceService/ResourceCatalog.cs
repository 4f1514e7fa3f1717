using Grpc.Core;
using Grpc.Net.Client;
using Kiln.Dashboard.Configuration;
using Kiln.Dashboard.ResourceService.V1;
using Resource = Kiln.Dashboard.ResourceService.V1.Resource;

namespace Kiln.Dashboard.ResourceService;

/// <summary>
/// The resources the AppHost runs, as its resource service tells them: a snapshot, then changes, kept in memory for the
/// pages and <c>/api/resources</c>. When the stream ends (the AppHost restarted, or dropped this watcher for falling
/// behind) it watches again after a backoff and replaces everything with the fresh snapshot. Without
/// <c>ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL</c> (a dashboard started alone) it is empty and <see cref="IsConfigured"/> is false.
/// </summary>
internal sealed class ResourceCatalog : BackgroundService
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan LongestRetry = TimeSpan.FromSeconds(5);

    private readonly DashboardOptions _options;
    private readonly ILogger<ResourceCatalog> _log;
    private readonly GrpcChannel? _channel;
    private readonly V1.ResourceService.ResourceServiceClient? _client;
    private readonly object _gate = new();
    private Dictionary<string, Resource> _resources = new(StringComparer.Ordinal);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ResourceCatalog(DashboardOptions options, ILogger<ResourceCatalog> log)
    {
        _options = options;
        _log = log;
        if (options.ResourceServiceUrl is { } url)
        {
            // http:// means HTTP/2 without TLS (h2c), which the AppHost's loopback service speaks.
            _channel = GrpcChannel.ForAddress(url);
            _client = new V1.ResourceService.ResourceServiceClient(_channel);
        }
    }

    public bool IsConfigured => _client is not null;

    /// <summary>True while a watch is open and its snapshot has arrived.</summary>
    public bool IsConnected { get; private set; }

    /// <summary>Why the catalog is not connected, for the pages: "" when it is.</summary>
    public string Problem { get; private set; } = "";

    /// <summary>Bumped on every change (and on connecting or losing the AppHost): pages follow it to refresh.</summary>
    public long Version { get; private set; }

    public IReadOnlyList<Resource> Resources
    {
        get
        {
            lock (_gate)
            {
                return [.. _resources.Values.OrderBy(r => r.DisplayName, StringComparer.Ordinal).ThenBy(r => r.Name, StringComparer.Ordinal)];
            }
        }
    }

    public Resource? Find(string name)
    {
        lock (_gate)
        {
            return _resources.GetValueOrDefault(name);
        }
    }

    /// <summary>Completes at the next change after <paramref name="version"/> (at once if there was one already).</summary>
    public Task WaitForChangeAsync(long version, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return Version != version ? Task.CompletedTask : _changed.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Runs <c>start</c>, <c>stop</c> or <c>restart</c> through the AppHost; answers whether it was done and what the AppHost said.</summary>
    public async Task<(bool Succeeded, string Message)> ExecuteAsync(string resourceName, string command, CancellationToken cancellationToken)
    {
        if (_client is null)
        {
            return (false, "This dashboard is not connected to an AppHost, so it cannot run commands.");
        }

        var resource = Find(resourceName);
        try
        {
            var response = await _client.ExecuteResourceCommandAsync(
                new ResourceCommandRequest { CommandName = command, ResourceName = resourceName, ResourceType = resource?.ResourceType ?? "" },
                Headers(), deadline: DateTime.UtcNow.AddMinutes(3), cancellationToken: cancellationToken);
            var message = response.Message is { Length: > 0 } text ? text : $"{command} {resourceName}: {response.Kind}";
            return (response.Kind == ResourceCommandResponseKind.Succeeded, message);
        }
        catch (RpcException ex)
        {
            return (false, $"The AppHost did not run {command} on {resourceName}: {ex.Status.StatusCode} {ex.Status.Detail}");
        }
    }

    /// <summary>One resource's console: the kept lines, then new ones until cancelled. Fails with the call's status (NOT_FOUND for an unknown resource).</summary>
    public async IAsyncEnumerable<IReadOnlyList<ConsoleLogLine>> WatchConsoleLogsAsync(string resourceName,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (_client is null)
        {
            yield break;
        }

        using var call = _client.WatchResourceConsoleLogs(new WatchResourceConsoleLogsRequest { ResourceName = resourceName }, Headers(),
            cancellationToken: cancellationToken);
        await foreach (var update in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            yield return update.LogLines;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_client is null)
        {
            return;
        }

        var retry = FirstRetry;
        var reconnect = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                using var call = _client.WatchResources(new WatchResourcesRequest { IsReconnect = reconnect }, Headers(), cancellationToken: stoppingToken);
                await foreach (var update in call.ResponseStream.ReadAllAsync(stoppingToken))
                {
                    Apply(update);
                    retry = FirstRetry; // a snapshot came: the next drop starts its backoff afresh
                }

                Disconnected("the AppHost ended the watch");
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException ex)
            {
                Disconnected($"{ex.Status.StatusCode}: {ex.Status.Detail}");
            }

            reconnect = true;
            try
            {
                await Task.Delay(retry, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, LongestRetry.Ticks));
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        _channel?.Dispose();
    }

    internal void Apply(WatchResourcesUpdate update)
    {
        lock (_gate)
        {
            switch (update.KindCase)
            {
                case WatchResourcesUpdate.KindOneofCase.InitialData:
                    _resources = update.InitialData.Resources.ToDictionary(r => r.Name, StringComparer.Ordinal);
                    IsConnected = true;
                    Problem = "";
                    break;
                case WatchResourcesUpdate.KindOneofCase.Changes:
                    foreach (var change in update.Changes.Value)
                    {
                        if (change.KindCase == WatchResourcesChange.KindOneofCase.Upsert)
                        {
                            _resources[change.Upsert.Name] = change.Upsert;
                        }
                        else if (change.KindCase == WatchResourcesChange.KindOneofCase.Delete)
                        {
                            _resources.Remove(change.Delete.ResourceName);
                        }
                    }

                    break;
            }

            Changed();
        }
    }

    private void Disconnected(string why)
    {
        lock (_gate)
        {
            // What was last known stays on the page, marked as not current, until the fresh snapshot replaces it.
            IsConnected = false;
            Problem = $"Not connected to the AppHost's resource service ({why}); retrying.";
            Changed();
        }

        _log.LogInformation("Resource watch ended ({Why}); watching again", why);
    }

    private void Changed()
    {
        Version++;
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    private Metadata Headers() => _options.ResourceServiceApiKey is { Length: > 0 } key
        ? new Metadata { { "x-resource-service-api-key", key } }
        : [];
}
