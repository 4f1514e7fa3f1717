using Kiln.AppHost.Model;
using Kiln.AppHost.Resources;

namespace Kiln.AppHost.Testing;

/// <summary>The helpers Aspire.Hosting.Testing adds to a running application, by resource name.</summary>
internal static class DistributedApplicationTestingExtensions
{
    /// <summary>An <see cref="HttpClient"/> whose base address is the project's endpoint (its first replica's).</summary>
    public static HttpClient CreateHttpClient(this DistributedApplication app, string resourceName, string? endpointName = null) =>
        new() { BaseAddress = app.GetEndpoint(resourceName, endpointName) };

    /// <summary>A project's endpoint; Kiln's projects have one, named <c>http</c>.</summary>
    public static Uri GetEndpoint(this DistributedApplication app, string resourceName, string? endpointName = null)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (endpointName is not (null or "http"))
        {
            throw new ArgumentException($"'{resourceName}' has no endpoint named '{endpointName}'; its only endpoint is 'http'.", nameof(endpointName));
        }

        var project = app.Resource<ProjectResource>(resourceName);
        return project.Urls.Count > 0
            ? project.Urls[0]
            : throw new InvalidOperationException(app.Describe(resourceName, "has no endpoint yet (start the application first)"));
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
