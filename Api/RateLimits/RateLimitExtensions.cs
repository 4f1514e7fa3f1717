using Kiln.ServiceDefaults;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;
using StackExchange.Redis;

namespace Kiln.Api.RateLimits;

/// <summary>Rate limits per API key and per client address, shared by every Api replica through Redis.</summary>
internal static class RateLimitExtensions
{
    public const string RedisCalls = "rate-limit-redis-calls";

    /// <summary>When half the Redis calls of the last two seconds failed (five at least), the next five seconds are decided per replica.</summary>
    internal static readonly TimeSpan BreakDuration = TimeSpan.FromSeconds(5);

    public static void AddRateLimits(this IHostApplicationBuilder builder)
    {
        var options = RateLimitOptions.From(builder.Configuration);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<LocalRateLimits>();
        builder.Services.AddSingleton<SharedRateLimits>();
        builder.Services.AddRateLimitRedisCalls(options.RedisTimeout);
        builder.Services.AddHealthChecks().AddCheck<SharedRateLimits>("rate-limits", tags: [HealthEndpoints.ReadyTag]);
    }

    /// <summary>The bounded, circuit-broken pipeline every Redis call of the rate limits goes through.</summary>
    internal static IServiceCollection AddRateLimitRedisCalls(this IServiceCollection services, TimeSpan timeout)
    {
        services.AddResiliencePipeline(RedisCalls, pipeline => pipeline
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<RedisException>().Handle<TimeoutException>().Handle<TimeoutRejectedException>(),
                FailureRatio = 0.5,
                MinimumThroughput = 5,
                SamplingDuration = TimeSpan.FromSeconds(2),
                BreakDuration = BreakDuration,
            })
            .AddTimeout(timeout));
        return services;
    }

    /// <summary>Between authentication and authorization: see <see cref="RateLimitMiddleware"/>.</summary>
    public static IApplicationBuilder UseRateLimits(this IApplicationBuilder app) => app.UseMiddleware<RateLimitMiddleware>();

    /// <summary>Requests to this endpoint with a valid key count against that key in the named policy's bucket.</summary>
    public static TBuilder RequireRateLimit<TBuilder>(this TBuilder endpoint, string policy) where TBuilder : IEndpointConventionBuilder =>
        endpoint.WithMetadata(new RateLimitMetadata(policy));
}
