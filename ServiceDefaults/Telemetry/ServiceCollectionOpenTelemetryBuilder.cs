using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;

namespace Kiln.ServiceDefaults.Telemetry;

/// <summary>
/// The fluent OpenTelemetry builder over a service collection. OpenTelemetry.Extensions.Hosting
/// (which normally provides <c>services.AddOpenTelemetry()</c>) cannot be restored here; the core
/// packages only need something that implements <see cref="IOpenTelemetryBuilder"/>.
/// </summary>
internal sealed class ServiceCollectionOpenTelemetryBuilder(IServiceCollection services) : IOpenTelemetryBuilder
{
    public IServiceCollection Services { get; } = services;
}
