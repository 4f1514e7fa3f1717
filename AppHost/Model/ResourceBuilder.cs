namespace Kiln.AppHost.Model;

/// <summary>The fluent handle <c>Add*</c> returns, as in Aspire: <c>.WithReference(x).WaitFor(x)</c>.</summary>
internal sealed class ResourceBuilder<T>(DistributedApplicationBuilder application, T resource) where T : Resource
{
    public T Resource { get; } = resource;

    public DistributedApplicationBuilder ApplicationBuilder { get; } = application;

    /// <summary>Start this resource only once <paramref name="dependency"/> is healthy.</summary>
    public ResourceBuilder<T> WaitFor<TOther>(ResourceBuilder<TOther> dependency) where TOther : Resource
    {
        if (!Resource.WaitsFor.Contains(dependency.Resource))
        {
            Resource.WaitsFor.Add(dependency.Resource);
        }

        return this;
    }
}
