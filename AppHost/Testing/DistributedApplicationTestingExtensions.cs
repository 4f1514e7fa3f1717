using Kiln.AppHost.Model;
using Kiln.AppHost.Resources;

namespace Kiln.AppHost.Testing;

/// <summary>The helpers Aspire.Hosting.Testing adds to a running application, by resource name.</summary>
internal static class DistributedApplicationTestingExtensions
{
    /// <summary>An <see cref="HttpClient"/> whose base address is the project's endpoint (its first replica's).</summary>
    public static HttpClient CreateHttpClient(this DistributedApplication app, string resourceName, string? endpointName = null) =>
        new() { BaseAddress = app.GetEndpoint(resourceName, endpointName) };

    /// <summary>
    /// A resource's endpoint by name, or its primary one: a project's <c>http</c> (its first replica's), the
    /// broker's <c>tcp</c> (the bootstrap address) or <c>control</c> (DevKafka's fault-injection port).
    /// </summary>
    public static Uri GetEndpoint(this DistributedApplication app, string resourceName, string? endpointName = null)
    {
        ArgumentNullException.ThrowIfNull(app);
        var endpoints = app.Resource<Resource>(resourceName).Endpoints;
        if (endpoints.Count == 0)
        {
            throw new InvalidOperationException(app.Describe(resourceName, "has no endpoint yet (start the application first)"));
        }

        if (endpointName is null)
        {
            return endpoints[0].Url;
        }

        return endpoints.FirstOrDefault(e => e.Name == endpointName).Url
            ?? throw new ArgumentException(
                $"'{resourceName}' has no endpoint named '{endpointName}'; its endpoints: {string.Join(", ", endpoints.Select(e => e.Name))}.",
                nameof(endpointName));
    }

    /// <summary>What a service referencing the resource receives as <c>ConnectionStrings__{name}</c>.</summary>
    public static ValueTask<string?> GetConnectionStringAsync(this DistributedApplication app, string resourceName,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(app);
        cancellationToken.ThrowIfCancellationRequested();
        var resource = app.Resources.OfType<IResourceWithConnectionString>().FirstOrDefault(r => r.Name == resourceName)
            ?? throw new KeyNotFoundException($"No resource named '{resourceName}' has a connection string.");
        return ValueTask.FromResult<string?>(resource.ConnectionString);
    }
}
