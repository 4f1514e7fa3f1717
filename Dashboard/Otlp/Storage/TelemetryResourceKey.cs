using OtlpResource = Kiln.Dashboard.Otlp.Proto.Resource.Resource;

namespace Kiln.Dashboard.Otlp.Storage;

/// <summary>What identifies a resource in telemetry: <c>service.name</c> (or <c>unknown_service</c>) and <c>service.instance.id</c>.</summary>
internal static class TelemetryResourceKey
{
    public static (string Name, string? InstanceId) Of(OtlpResource resource)
    {
        string? name = null, instanceId = null;
        foreach (var attribute in resource.Attributes)
        {
            if (attribute.Key == "service.name")
            {
                name = attribute.Value?.StringValue;
            }
            else if (attribute.Key == "service.instance.id")
            {
                instanceId = attribute.Value?.StringValue;
            }
        }

        return (string.IsNullOrEmpty(name) ? TelemetryResource.UnknownService : name, string.IsNullOrEmpty(instanceId) ? null : instanceId);
    }
}
