using System.Net;
using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Kiln.AppHost.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kiln.AppHost.ResourceService;

/// <summary>
/// The AppHost's resource service (<c>resource_service.proto</c>), as Aspire's AppHost hosts one for its dashboard: gRPC on
/// a loopback port of its own, HTTP/2 without TLS, every call authenticated by <c>x-resource-service-api-key</c>. Started
/// before any resource, so a dashboard started first can be handed its <see cref="Url"/> and <see cref="ApiKey"/>
/// (<c>ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL</c>, <c>Dashboard__ResourceServiceClient__ApiKey</c>).
/// </summary>
internal sealed class ResourceServiceHost : IAsyncDisposable
{
    public const string ApiKeyHeader = "x-resource-service-api-key";

    private readonly WebApplication _server;
    private readonly ResourceFeed _feed;

    private ResourceServiceHost(WebApplication server, ResourceFeed feed, string apiKey)
    {
        _server = server;
        _feed = feed;
        ApiKey = apiKey;
    }

    /// <summary><c>http://127.0.0.1:PORT</c>: a fresh loopback port at each start.</summary>
    public Uri Url => new(_server.Urls.Single());

    /// <summary>The key every call carries in <see cref="ApiKeyHeader"/> (<c>resourceServiceApiKey</c> in secrets.json).</summary>
    public string ApiKey { get; }

    public static async Task<ResourceServiceHost> StartAsync(DistributedApplication app, CancellationToken cancellationToken)
    {
        var apiKey = app.Secrets.ResourceServiceApiKey ?? throw new InvalidOperationException("The AppHost's secrets have no resourceServiceApiKey.");
        var feed = new ResourceFeed(app, app.Health, EnvironmentSecrets.ValuesOf(app.Secrets));
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddSingleton(app);
        builder.Services.AddSingleton(feed);
        builder.Services.AddGrpc(grpc => grpc.Interceptors.Add<ApiKeyInterceptor>(Encoding.UTF8.GetBytes(apiKey)));
        var server = builder.Build();
        server.MapGrpcService<ResourceGrpcService>();
        await server.StartAsync(cancellationToken);
        return new ResourceServiceHost(server, feed, apiKey);
    }

    public async ValueTask DisposeAsync()
    {
        // Watch calls end first (their streams complete), so the server's stop does not wait for them.
        await _feed.DisposeAsync();
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _server.StopAsync(grace.Token);
        await _server.DisposeAsync();
    }

    /// <summary>Refuses every call without the key, before it reaches the service: UNAUTHENTICATED, compared in constant time.</summary>
    private sealed class ApiKeyInterceptor(byte[] apiKey) : Interceptor
    {
        public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
            UnaryServerMethod<TRequest, TResponse> continuation)
        {
            Authenticate(context);
            return continuation(request, context);
        }

        public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream,
            ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
        {
            Authenticate(context);
            return continuation(request, responseStream, context);
        }

        public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
            ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
        {
            Authenticate(context);
            return continuation(requestStream, context);
        }

        public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
            IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
        {
            Authenticate(context);
            return continuation(requestStream, responseStream, context);
        }

        private void Authenticate(ServerCallContext context)
        {
            var presented = Encoding.UTF8.GetBytes(context.RequestHeaders.GetValue(ApiKeyHeader) ?? "");
            if (!CryptographicOperations.FixedTimeEquals(presented, apiKey))
            {
                throw new RpcException(new Status(StatusCode.Unauthenticated, $"A valid {ApiKeyHeader} header is required."));
            }
        }
    }
}
