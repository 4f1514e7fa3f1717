using Kiln.ServiceDefaults.Resilience;
using Kiln.ServiceDefaults.ServiceDiscovery;
using Microsoft.Extensions.Configuration;

namespace Kiln.Tests.ServiceDefaults;

public sealed class ServiceEndpointResolverTests
{
    private static ServiceEndpointResolver Resolver(params (string Key, string Value)[] settings) =>
        new(new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build());

    [Fact]
    public void Https_plus_http_prefers_https_and_falls_back_to_http()
    {
        var httpOnly = Resolver(("services:api:http:0", "http://localhost:5000"));
        Assert.Equal("http://localhost:5000/api/v1/sensors", httpOnly.Resolve(new Uri("https+http://api/api/v1/sensors")).ToString());

        var both = Resolver(("services:api:http:0", "http://localhost:5000"), ("services:api:https:0", "https://localhost:5001"));
        Assert.Equal("https://localhost:5001/x", both.Resolve(new Uri("https+http://api/x")).ToString());
    }

    [Fact]
    public void Replicas_are_taken_in_turn()
    {
        var resolver = Resolver(("services:api:http:0", "http://localhost:5000"), ("services:api:http:1", "http://localhost:5002"));
        var ports = Enumerable.Range(0, 4).Select(_ => resolver.Resolve(new Uri("http://api/")).Port).ToList();
        Assert.Equal(2, ports.Distinct().Count());
    }

    [Fact]
    public void A_real_host_name_is_left_alone_and_an_unknown_service_is_explained()
    {
        var resolver = Resolver();
        Assert.Equal("http://example.test/", resolver.Resolve(new Uri("http://example.test/")).ToString());
        var error = Assert.Throws<InvalidOperationException>(() => resolver.Resolve(new Uri("https+http://api/")));
        Assert.Contains("services__api", error.Message, StringComparison.Ordinal);
    }
}

public sealed class StandardResilienceOptionsTests
{
    [Fact]
    public void The_defaults_are_the_standard_handlers_and_are_consistent()
    {
        var options = new StandardResilienceOptions();
        Assert.Empty(options.Validate());
        Assert.Equal(TimeSpan.FromSeconds(30), options.TotalRequestTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), options.AttemptTimeout);
        Assert.Equal(3, options.MaxRetryAttempts);
    }

    [Fact]
    public void Each_rule_of_the_original_validator_is_enforced()
    {
        Assert.Contains(new StandardResilienceOptions { TotalRequestTimeout = TimeSpan.FromSeconds(5) }.Validate(),
            e => e.Contains("attempt timeout", StringComparison.Ordinal));
        Assert.Contains(new StandardResilienceOptions { CircuitBreakerSamplingDuration = TimeSpan.FromSeconds(15) }.Validate(),
            e => e.Contains("sampling duration", StringComparison.Ordinal));
        Assert.Contains(new StandardResilienceOptions { RetryDelay = TimeSpan.FromSeconds(10) }.Validate(),
            e => e.Contains("retry delays", StringComparison.Ordinal));
    }
}
