using Grpc.Core;
using Grpc.Net.Client;
using Kiln.AppHost.Model;
using Kiln.AppHost.ResourceService;
using Kiln.ResourceService.V1;
using Resource = Kiln.ResourceService.V1.Resource;

namespace Kiln.Tests.ResourceService;

/// <summary>A dashboard's view of the AppHost's resource service: a real gRPC client over h2c with the AppHost's key.</summary>
internal sealed class ResourceServiceDriver : IDisposable
{
    private readonly GrpcChannel _channel;

    public ResourceServiceDriver(DistributedApplication app, string? apiKey = null)
    {
        _channel = GrpcChannel.ForAddress(app.ResourceService.Url);
        Client = new Kiln.ResourceService.V1.ResourceService.ResourceServiceClient(_channel);
        Headers = apiKey is "" ? [] : new Metadata { { ResourceServiceHost.ApiKeyHeader, apiKey ?? app.ResourceService.ApiKey } };
    }

    public Kiln.ResourceService.V1.ResourceService.ResourceServiceClient Client { get; }

    public Metadata Headers { get; }

    /// <summary>Starts watching: the view holds the initial snapshot and applies every change after it.</summary>
    public ResourceView Watch() => new(Client.WatchResources(new WatchResourcesRequest(), Headers));

    public async Task<ResourceCommandResponse> ExecuteAsync(string command, string resource) =>
        await Client.ExecuteResourceCommandAsync(new ResourceCommandRequest { CommandName = command, ResourceName = resource }, Headers,
            deadline: DateTime.UtcNow.AddMinutes(2));

    public void Dispose() => _channel.Dispose();
}

/// <summary>The resources as a watcher sees them, kept current from the stream in the background.</summary>
internal sealed class ResourceView : IDisposable
{
    private readonly AsyncServerStreamingCall<WatchResourcesUpdate> _call;
    private readonly Dictionary<string, Resource> _resources = new(StringComparer.Ordinal);
    private readonly List<Resource> _upserts = [];
    private readonly TaskCompletionSource<IReadOnlyList<Resource>> _initial = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _reading;

    public ResourceView(AsyncServerStreamingCall<WatchResourcesUpdate> call)
    {
        _call = call;
        _reading = Task.Run(ReadAsync);
    }

    /// <summary>The first update's resources, as the service sent them.</summary>
    public Task<IReadOnlyList<Resource>> Initial => _initial.Task.WaitAsync(TimeSpan.FromSeconds(30));

    /// <summary>How the stream ended (faulted with the call's status), once it has.</summary>
    public Task Reading => _reading;

    public Resource? this[string name]
    {
        get
        {
            lock (_resources)
            {
                return _resources.GetValueOrDefault(name);
            }
        }
    }

    public IReadOnlyList<Resource> All
    {
        get
        {
            lock (_resources)
            {
                return [.. _resources.Values];
            }
        }
    }

    /// <summary>Every upsert received after the initial snapshot, in order.</summary>
    public IReadOnlyList<Resource> Upserts
    {
        get
        {
            lock (_resources)
            {
                return [.. _upserts];
            }
        }
    }

    public Task WaitUntilAsync(Func<ResourceView, bool> condition, TimeSpan within, string what) =>
        Eventually.TrueAsync(() => _reading.IsFaulted ? throw _reading.Exception! : condition(this), within, what);

    private async Task ReadAsync()
    {
        try
        {
            await foreach (var update in _call.ResponseStream.ReadAllAsync())
            {
                lock (_resources)
                {
                    if (update.KindCase == WatchResourcesUpdate.KindOneofCase.InitialData)
                    {
                        foreach (var resource in update.InitialData.Resources)
                        {
                            _resources[resource.Name] = resource;
                        }

                        _initial.TrySetResult([.. update.InitialData.Resources]);
                        continue;
                    }

                    foreach (var change in update.Changes.Value)
                    {
                        if (change.KindCase == WatchResourcesChange.KindOneofCase.Upsert)
                        {
                            _resources[change.Upsert.Name] = change.Upsert;
                            _upserts.Add(change.Upsert);
                        }
                        else
                        {
                            _resources.Remove(change.Delete.ResourceName);
                        }
                    }
                }
            }
        }
        catch (Exception ex)
        {
            _initial.TrySetException(ex);
            throw;
        }
    }

    public void Dispose() => _call.Dispose();
}
