using Grpc.Core;
using Kiln.Dashboard.Otlp.Proto.Collector.Logs;
using Kiln.Dashboard.Otlp.Storage;

namespace Kiln.Dashboard.Otlp.Grpc;

/// <summary><c>opentelemetry.proto.collector.logs.v1.LogsService/Export</c>.</summary>
internal sealed class OtlpGrpcLogsService(ITelemetryStore store) : LogsService.LogsServiceBase
{
    public override Task<ExportLogsServiceResponse> Export(ExportLogsServiceRequest request, ServerCallContext context)
    {
        store.AddLogs(request);
        return Task.FromResult(new ExportLogsServiceResponse());
    }
}
