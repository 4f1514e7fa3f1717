using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Kiln.Dashboard.Otlp.Grpc;

/// <summary>Refuses an OTLP/gRPC call without the right <c>x-otlp-api-key</c> with <c>Unauthenticated</c>, before it is read.</summary>
internal sealed class OtlpApiKeyInterceptor(OtlpApiKey apiKey) : Interceptor
{
    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        if (!apiKey.Accepts(context.RequestHeaders.GetValue(OtlpApiKey.HeaderName)))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, $"A valid {OtlpApiKey.HeaderName} header is required."));
        }

        return continuation(request, context);
    }
}
