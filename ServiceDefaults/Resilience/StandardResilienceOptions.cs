using System.Threading.RateLimiting;
using Polly;
using Polly.CircuitBreaker;
using Polly.RateLimiting;
using Polly.Retry;
using Polly.Timeout;

namespace Kiln.ServiceDefaults.Resilience;

/// <summary>
/// The options of Microsoft.Extensions.Http.Resilience's standard handler, with its defaults
/// (ASPIRE-CONTRACT.md §4). Validated when the pipeline is built, as the original validates at start.
/// </summary>
public sealed class StandardResilienceOptions
{
    public int ConcurrencyLimit { get; set; } = 1000;
    public TimeSpan TotalRequestTimeout { get; set; } = TimeSpan.FromSeconds(30);
    public int MaxRetryAttempts { get; set; } = 3;
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(2);
    public DelayBackoffType RetryBackoff { get; set; } = DelayBackoffType.Exponential;
    public bool RetryUseJitter { get; set; } = true;
    public double CircuitBreakerFailureRatio { get; set; } = 0.1;
    public int CircuitBreakerMinimumThroughput { get; set; } = 100;
    public TimeSpan CircuitBreakerSamplingDuration { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan CircuitBreakerBreakDuration { get; set; } = TimeSpan.FromSeconds(5);
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Returns the rule each setting breaks, empty when the options are consistent.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (TotalRequestTimeout < AttemptTimeout)
        {
            errors.Add($"The total request timeout ({TotalRequestTimeout}) must be at least the attempt timeout ({AttemptTimeout}).");
        }

        if (CircuitBreakerSamplingDuration < 2 * AttemptTimeout)
        {
            errors.Add($"The circuit breaker sampling duration ({CircuitBreakerSamplingDuration}) must be at least twice the attempt timeout ({AttemptTimeout}).");
        }

        var retryDelays = SumOfRetryDelays();
        if (retryDelays > TotalRequestTimeout)
        {
            errors.Add($"The retry delays add up to {retryDelays}, more than the total request timeout ({TotalRequestTimeout}).");
        }

        return errors;
    }

    /// <summary>The delays without jitter, as the original validator computes them.</summary>
    private TimeSpan SumOfRetryDelays()
    {
        var total = TimeSpan.Zero;
        for (var attempt = 0; attempt < MaxRetryAttempts; attempt++)
        {
            total += RetryBackoff switch
            {
                DelayBackoffType.Constant => RetryDelay,
                DelayBackoffType.Linear => RetryDelay * (attempt + 1),
                _ => RetryDelay * Math.Pow(2, attempt),
            };
        }

        return total;
    }

    internal ResiliencePipeline<HttpResponseMessage> BuildPipeline()
    {
        var errors = Validate();
        if (errors.Count > 0)
        {
            throw new InvalidOperationException("Invalid standard resilience options: " + string.Join(" ", errors));
        }

        return new ResiliencePipelineBuilder<HttpResponseMessage>()
            .AddRateLimiter(new RateLimiterStrategyOptions
            {
                DefaultRateLimiterOptions = new ConcurrencyLimiterOptions { PermitLimit = ConcurrencyLimit, QueueLimit = 0 },
            })
            .AddTimeout(TotalRequestTimeout)
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = MaxRetryAttempts,
                BackoffType = RetryBackoff,
                UseJitter = RetryUseJitter,
                Delay = RetryDelay,
                ShouldHandle = args => ValueTask.FromResult(TransientHttpFailure.Is(args.Outcome)),
                DelayGenerator = args => ValueTask.FromResult(TransientHttpFailure.RetryAfter(args.Outcome)),
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage>
            {
                FailureRatio = CircuitBreakerFailureRatio,
                MinimumThroughput = CircuitBreakerMinimumThroughput,
                SamplingDuration = CircuitBreakerSamplingDuration,
                BreakDuration = CircuitBreakerBreakDuration,
                ShouldHandle = args => ValueTask.FromResult(TransientHttpFailure.Is(args.Outcome)),
            })
            .AddTimeout(AttemptTimeout)
            .Build();
    }
}
