using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Configuration;

namespace Kiln.Dashboard.Configuration;

/// <summary>How a way in is protected, with Aspire's values: a key (or token) is required, or nothing is.</summary>
internal enum AuthMode
{
    ApiKey,
    BrowserToken,
    Unsecured,
}

/// <summary>A way in and what it requires; <see cref="Generated"/> when no key was configured and the dashboard made one.</summary>
internal sealed record AccessSetting(AuthMode Mode, IReadOnlyList<string> Keys, bool Generated)
{
    public string? PrimaryKey => Keys.Count > 0 ? Keys[0] : null;
}

/// <summary>
/// Everything the dashboard reads from its configuration, under the Aspire dashboard's names
/// (<c>src/Shared/DashboardConfigNames.cs</c> in microsoft/aspire), so whatever launches Aspire's dashboard can launch
/// this one: <c>ASPNETCORE_URLS</c>, <c>ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL</c>, <c>ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL</c>,
/// <c>Dashboard:Otlp:*</c>, <c>Dashboard:Frontend:*</c>, <c>Dashboard:Api:*</c>, <c>Dashboard:ResourceServiceClient:*</c>,
/// <c>ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL</c> and <c>Dashboard:TelemetryLimits:*</c>; and Kiln's own
/// <c>Dashboard:Storage:Path</c> and <c>Dashboard:Run:*</c> (<see cref="RunSettings"/>).
/// </summary>
internal sealed record DashboardOptions
{
    public const string DefaultFrontendUrl = "http://127.0.0.1:18888";
    public const string DefaultOtlpGrpcUrl = "http://127.0.0.1:18889";
    public const string DefaultOtlpHttpUrl = "http://127.0.0.1:18890";

    public required IPEndPoint FrontendEndpoint { get; init; }
    public required IPEndPoint OtlpGrpcEndpoint { get; init; }
    public required IPEndPoint OtlpHttpEndpoint { get; init; }

    /// <summary>The <c>x-otlp-api-key</c> both OTLP receivers require.</summary>
    public required AccessSetting OtlpAccess { get; init; }

    /// <summary>The browser token <c>/login?t=</c> takes.</summary>
    public required AccessSetting FrontendAccess { get; init; }

    /// <summary>The <c>X-API-Key</c> the telemetry HTTP API and <c>/api/resources</c> require.</summary>
    public required AccessSetting ApiAccess { get; init; }

    /// <summary>The AppHost's resource service (watch resources, console logs, commands): kept for the resources slice.</summary>
    public Uri? ResourceServiceUrl { get; init; }

    /// <summary>The key the resource service expects from the dashboard; kept for the resources slice.</summary>
    public string? ResourceServiceApiKey { get; init; }

    public required TelemetryLimits Limits { get; init; }

    /// <summary>Where runs are kept on disk (or not), and which run this is.</summary>
    public required RunSettings Run { get; init; }

    public static DashboardOptions Read(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var urls = configuration["ASPNETCORE_URLS"] ?? configuration["urls"];
        return new DashboardOptions
        {
            FrontendEndpoint = LoopbackEndpoint("ASPNETCORE_URLS", FirstUrl(urls) ?? DefaultFrontendUrl),
            OtlpGrpcEndpoint = LoopbackEndpoint("ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL", configuration["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] ?? DefaultOtlpGrpcUrl),
            OtlpHttpEndpoint = LoopbackEndpoint("ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL", configuration["ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] ?? DefaultOtlpHttpUrl),
            OtlpAccess = Access(configuration.GetSection("Dashboard:Otlp"), AuthMode.ApiKey, "PrimaryApiKey", "SecondaryApiKey"),
            FrontendAccess = Access(configuration.GetSection("Dashboard:Frontend"), AuthMode.BrowserToken, "BrowserToken"),
            ApiAccess = Access(configuration.GetSection("Dashboard:Api"), AuthMode.ApiKey, "PrimaryApiKey", "SecondaryApiKey"),
            ResourceServiceUrl = configuration["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] is { Length: > 0 } resourceService
                ? new Uri(resourceService) : null,
            ResourceServiceApiKey = configuration["Dashboard:ResourceServiceClient:ApiKey"],
            Limits = TelemetryLimits.Read(configuration.GetSection("Dashboard:TelemetryLimits")),
            Run = RunSettings.Read(configuration, TimeProvider.System),
        };
    }

    /// <summary>
    /// The mode named, or <paramref name="secure"/> when none is: a key is then required, and generated when none is
    /// configured, so a dashboard started alone is never open by accident. <c>Unsecured</c> must be asked for.
    /// </summary>
    private static AccessSetting Access(IConfigurationSection section, AuthMode secure, params string[] keyNames)
    {
        var modeText = section["AuthMode"];
        var mode = secure;
        if (!string.IsNullOrEmpty(modeText))
        {
            if (!Enum.TryParse(modeText, ignoreCase: true, out mode) || (mode != secure && mode != AuthMode.Unsecured))
            {
                throw new DashboardConfigurationException(
                    $"{section.Path}:AuthMode is '{modeText}'; it must be {secure} or {AuthMode.Unsecured}.");
            }
        }

        if (mode == AuthMode.Unsecured)
        {
            return new AccessSetting(mode, [], Generated: false);
        }

        var keys = keyNames.Select(name => section[name]).Where(k => !string.IsNullOrEmpty(k)).Select(k => k!).ToList();
        return keys.Count > 0 ? new AccessSetting(mode, keys, Generated: false) : new AccessSetting(mode, [NewKey()], Generated: true);
    }

    private static string? FirstUrl(string? urls) =>
        urls?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();

    /// <summary>Every listener binds loopback only: <c>localhost</c>, <c>127.0.0.1</c> or <c>[::1]</c>, plain http.</summary>
    internal static IPEndPoint LoopbackEndpoint(string setting, string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp)
        {
            throw new DashboardConfigurationException($"{setting} is '{url}'; it must be an http:// URL such as {DefaultFrontendUrl}.");
        }

        var address = uri.Host == "localhost" ? IPAddress.Loopback
            : IPAddress.TryParse(uri.Host.Trim('[', ']'), out var parsed) && IPAddress.IsLoopback(parsed) ? parsed
            : throw new DashboardConfigurationException($"{setting} is '{url}'; the dashboard listens on loopback only (localhost, 127.0.0.1 or [::1]).");
        return new IPEndPoint(address, uri.Port);
    }

    /// <summary>32 characters from [A-Za-z0-9], as the AppHost's secrets are.</summary>
    internal static string NewKey() =>
        RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 32);
}

/// <summary>A setting the dashboard cannot start with; the message names it and what it must be.</summary>
internal sealed class DashboardConfigurationException(string message) : Exception(message);
