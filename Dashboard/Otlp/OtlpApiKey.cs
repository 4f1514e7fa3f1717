using Kiln.Dashboard.Authentication;
using Kiln.Dashboard.Configuration;

namespace Kiln.Dashboard.Otlp;

/// <summary>The <c>x-otlp-api-key</c> check both receivers make (Aspire's <c>Dashboard:Otlp:AuthMode=ApiKey</c>).</summary>
internal sealed class OtlpApiKey(DashboardOptions options)
{
    public const string HeaderName = "x-otlp-api-key";

    private readonly SecretComparer _keys = new(options.OtlpAccess.Keys);

    public bool Accepts(string? presented) => options.OtlpAccess.Mode == AuthMode.Unsecured || _keys.Matches(presented);
}
