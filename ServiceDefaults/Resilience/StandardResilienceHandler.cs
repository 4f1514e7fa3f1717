using Microsoft.Extensions.DependencyInjection;
using Polly;

namespace Kiln.ServiceDefaults.Resilience;

/// <summary>
/// Runs every request of an HttpClient through the standard pipeline (rate limiter → total timeout →
/// retry → circuit breaker → attempt timeout), as <c>AddStandardResilienceHandler</c> does.
/// </summary>
public sealed class StandardResilienceHandler(ResiliencePipeline<HttpResponseMessage> pipeline) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            var outcome = await pipeline.ExecuteOutcomeAsync(
                static async (ctx, state) =>
                {
                    try
                    {
                        var response = await state.handler.SendCoreAsync(state.request, ctx.CancellationToken);
                        return Outcome.FromResult(response);
                    }
                    catch (Exception ex)
                    {
                        return Outcome.FromException<HttpResponseMessage>(ex);
                    }
                },
                context,
                (handler: this, request));
            outcome.ThrowIfException();
            return outcome.Result!;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private Task<HttpResponseMessage> SendCoreAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        base.SendAsync(request, cancellationToken);
}

public static class StandardResilienceExtensions
{
    /// <summary>
    /// Adds the standard pipeline. The clients configured through one call share its pipeline (and so its
    /// circuit breaker); the options are validated here, at registration, not on the first request.
    /// </summary>
    public static IHttpClientBuilder AddStandardResilienceHandler(this IHttpClientBuilder builder, Action<StandardResilienceOptions>? configure = null)
    {
        var options = new StandardResilienceOptions();
        configure?.Invoke(options);
        var pipeline = options.BuildPipeline();
        return builder.AddHttpMessageHandler(() => new StandardResilienceHandler(pipeline));
    }
}
