using Grpc.Core;
using Kiln.Dashboard.Otlp.Proto.Collector.Trace;
using Kiln.Dashboard.Otlp.Storage;

namespace Kiln.Dashboard.Otlp.Grpc;

/// <summary><c>opentelemetry.proto.collector.trace.v1.TraceService/Export</c>.</summary>
internal sealed class OtlpGrpcTraceService(ITelemetryStore store) : TraceService.TraceServiceBase
{
    public override Task<ExportTraceServiceResponse> Export(ExportTraceServiceRequest request, ServerCallContext context)
    {
        store.AddTraces(request);
        return Task.FromResult(new ExportTraceServiceResponse());
    }
}
