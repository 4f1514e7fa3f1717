using Grpc.Core;
using Grpc.Core.Interceptors;
using Kiln.Dashboard.Persistence;

namespace Kiln.Dashboard.Otlp.Grpc;

/// <summary>
/// An export the run file's writer has no room for is answered <c>UNAVAILABLE</c>, which OTLP exporters retry with
/// backoff: the export was not kept, so it is not acknowledged.
/// </summary>
internal sealed class OtlpBackpressureInterceptor : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        try
        {
            return await continuation(request, context);
        }
        catch (TelemetryBackpressureException ex)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, ex.Message));
        }
    }
}
