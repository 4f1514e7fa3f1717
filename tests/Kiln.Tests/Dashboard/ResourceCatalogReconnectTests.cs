using System.Collections.Concurrent;
using Grpc.Core;
using Kiln.Dashboard.ResourceService;
using Kiln.ResourceService.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kiln.Tests.Dashboard;

/// <summary>
/// The dashboard's catalog against a resource service of the test's own (the AppHost's generated server base over h2c,
/// scripted): it sends the key, watches again after the service drops it (RESOURCE_EXHAUSTED, as the AppHost drops a
/// watcher that falls behind) or goes away (an AppHost restart on the same address), and each time takes the fresh
/// snapshot whole.
/// </summary>
public sealed class ResourceCatalogReconnectTests
{
    private const string Key = "the-resource-service-key";

    [Fact]
    public async Task The_catalog_watches_again_after_a_drop_and_after_a_restart_and_keeps_only_the_fresh_snapshot()
    {
        var script = new Script();
        var port = 0;
        var first = await ServeAsync(script, port);
        port = first.Urls.Select(u => new Uri(u).Port).Single();
        await using var dashboard = await TestDashboard.StartAsync(new Dictionary<string, string?>
        {
            ["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] = $"http://127.0.0.1:{port}",
            ["Dashboard:ResourceServiceClient:ApiKey"] = Key,
        });
        var catalog = dashboard.App.App.Services.GetRequiredService<ResourceCatalog>();
        var within = TimeSpan.FromSeconds(30);

        // The first watch gets "one" and is then dropped; the second (is_reconnect) gets "two" and stays open.
        await Eventually.TrueAsync(() => Task.FromResult(Names(catalog) == "two" && catalog.IsConnected), within, "the snapshot after the drop");
        Assert.Equal([false, true], script.Requests.Take(2).Select(r => r.IsReconnect));
        Assert.All(script.Keys, key => Assert.Equal(Key, key));

        // The AppHost goes away and comes back on the same address: the catalog says so meanwhile, then takes the new snapshot.
        await first.StopAsync();
        await first.DisposeAsync();
        await Eventually.TrueAsync(() => Task.FromResult(!catalog.IsConnected), within, "the catalog to notice the AppHost is gone");
        Assert.Contains("retrying", catalog.Problem, StringComparison.Ordinal);
        Assert.Equal("two", Names(catalog)); // what it knew stays until the fresh snapshot
        script.Next = "three";
        await using var second = await ServeAsync(script, port);
        await Eventually.TrueAsync(() => Task.FromResult(Names(catalog) == "three" && catalog.IsConnected), within, "the snapshot of the restarted AppHost");
        await second.StopAsync();
    }

    private static string Names(ResourceCatalog catalog) => string.Join(",", catalog.Resources.Select(r => r.Name));

    private static async Task<WebApplication> ServeAsync(Script script, int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, port, o => o.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(script);
        var app = builder.Build();
        app.MapGrpcService<ScriptedResourceService>();
        await app.StartAsync();
        return app;
    }

    internal sealed class Script
    {
        public ConcurrentQueue<WatchResourcesRequest> Requests { get; } = new();

        public ConcurrentQueue<string> Keys { get; } = new();

        /// <summary>The resource the next watch's snapshot holds after the first two ("one", dropped; "two").</summary>
        public volatile string Next = "two";
    }

    internal sealed class ScriptedResourceService(Script script, Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime)
        : Kiln.ResourceService.V1.ResourceService.ResourceServiceBase
    {
        public override async Task WatchResources(WatchResourcesRequest request, IServerStreamWriter<WatchResourcesUpdate> responseStream, ServerCallContext context)
        {
            script.Requests.Enqueue(request);
            script.Keys.Enqueue(context.RequestHeaders.GetValue("x-resource-service-api-key") ?? "");
            var name = script.Requests.Count == 1 ? "one" : script.Next;
            var initial = new InitialResourceData();
            initial.Resources.Add(new Kiln.ResourceService.V1.Resource { Name = name, DisplayName = name, ResourceType = "Project", State = "Running" });
            await responseStream.WriteAsync(new WatchResourcesUpdate { InitialData = initial });
            if (name == "one")
            {
                throw new RpcException(new Status(StatusCode.ResourceExhausted, "the watcher fell 1,000 updates behind"));
            }

            // Open until the watcher leaves or the service stops (then the call ends, as the AppHost's do when it stops).
            using var end = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
            await Task.Delay(Timeout.Infinite, end.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }
}
