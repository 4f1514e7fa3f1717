using Grpc.Core;
using Kiln.Dashboard.Otlp.Proto.Collector.Metrics;
using Kiln.Dashboard.Otlp.Storage;

namespace Kiln.Dashboard.Otlp.Grpc;

/// <summary><c>opentelemetry.proto.collector.metrics.v1.MetricsService/Export</c>.</summary>
internal sealed class OtlpGrpcMetricsService(ITelemetryStore store) : MetricsService.MetricsServiceBase
{
    public override Task<ExportMetricsServiceResponse> Export(ExportMetricsServiceRequest request, ServerCallContext context)
    {
        store.AddMetrics(request);
        return Task.FromResult(new ExportMetricsServiceResponse());
    }
}
