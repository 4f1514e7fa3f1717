namespace Kiln.AppHost.Model;

/// <summary>
/// A resource's named endpoint as a value for another resource, as Aspire's <c>EndpointReference</c>: resolved when that
/// other resource starts, not when the system is declared, so it creates no start order (and so no cycle) between the two.
/// </summary>
internal sealed class EndpointReference(Resource resource, string endpointName)
{
    public Resource Resource { get; } = resource;

    public string EndpointName { get; } = endpointName;

    /// <summary>The endpoint's address, allocated now if the resource has not started yet (it keeps it when it does).</summary>
    public Uri Url => Resource.AllocateEndpoint(EndpointName);
}
