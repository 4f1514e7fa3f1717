using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using Kiln.Api.Readings;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace Kiln.Api.Extensions;

/// <summary>
/// Says, in the client's terms, why the framework could not read a request: the JSON path and what the
/// endpoint expects there, and where in the body; never the .NET types the body binds to or the
/// framework's own wording, which name parameters, types and internals.
/// </summary>
internal static partial class UnreadableRequest
{
    public static ProblemDetailsExtensions.Failure Describe(BadHttpRequestException exception, HttpContext context) => exception switch
    {
        { StatusCode: StatusCodes.Status413PayloadTooLarge or StatusCodes.Status415UnsupportedMediaType } =>
            new(exception.StatusCode, Title(exception.StatusCode)!, Detail(exception.StatusCode, context)!),
        { InnerException: JsonException json } => new(StatusCodes.Status400BadRequest, "The body could not be read.", DescribeJson(json, context)),
        // What remains when reading a body: there was none, or it was JSON null.
        _ => new(StatusCodes.Status400BadRequest, "The body could not be read.", "The request has no body, or its body is JSON null; send a JSON object."),
    };

    /// <summary>The title for a status the framework sets on its own.</summary>
    public static string? Title(int status) => status switch
    {
        StatusCodes.Status413PayloadTooLarge => "The request body is too large.",
        StatusCodes.Status415UnsupportedMediaType => "The request body must be JSON.",
        _ => null,
    };

    /// <summary>The detail for a status the framework answers with on its own (no endpoint, wrong method, body limit, content type).</summary>
    public static string? Detail(int status, HttpContext context) => status switch
    {
        StatusCodes.Status404NotFound =>
            "Nothing answers at this path. The Api's endpoints are listed in its OpenAPI document, /openapi/v1.json.",
        StatusCodes.Status405MethodNotAllowed => context.Response.Headers.Allow is { Count: > 0 } allow
            ? $"{context.Request.Method} is not allowed at this path; it answers {allow}."
            : $"{context.Request.Method} is not allowed at this path.",
        StatusCodes.Status413PayloadTooLarge => context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize is { } limit
            ? string.Create(CultureInfo.InvariantCulture, $"The body may be at most {limit:N0} bytes; send fewer readings per request.")
            : "The body is larger than the Api reads; send fewer readings per request.",
        StatusCodes.Status415UnsupportedMediaType => "Send the body as JSON, with the header Content-Type: application/json.",
        StatusCodes.Status500InternalServerError => "The Api failed unexpectedly; the trace id identifies the failure in its logs.",
        _ => null,
    };

    private static string DescribeJson(JsonException json, HttpContext context)
    {
        var options = context.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        var where = string.Create(CultureInfo.InvariantCulture, $"line {json.LineNumber + 1}, byte {json.BytePositionInLine + 1}");

        // The reader's own failures (malformed JSON, nesting past MaxDepth) come wrapped, with the path added;
        // they know where the body went wrong, not what was expected there.
        if (json.InnerException is JsonException)
        {
            return $"The body is not well-formed JSON, or nests deeper than {options.MaxDepth} levels ({where}).";
        }

        var path = json.Path ?? "$";
        var subject = path == "$" ? "The body" : path;
        // The exception handler has taken the endpoint off the context, and keeps it in its feature.
        var endpoint = context.Features.Get<IExceptionHandlerFeature>()?.Endpoint ?? context.GetEndpoint();
        var bodyType = endpoint?.Metadata.GetMetadata<IAcceptsMetadata>()?.RequestType;
        return bodyType is not null && Expected(options, bodyType, path) is { } expectation
            ? $"{subject} must be {expectation} ({where})."
            : $"{subject} has a value this endpoint cannot read ({where}).";
    }

    /// <summary>What the body type expects at a path such as <c>$.rule.high</c> or <c>$.readings[0]</c>; null if the path leads nowhere.</summary>
    private static string? Expected(JsonSerializerOptions options, Type bodyType, string path)
    {
        var info = options.GetTypeInfo(bodyType);
        foreach (Match segment in PathSegment().Matches(path))
        {
            if (segment.Groups["name"] is { Success: true } name)
            {
                var comparison = options.PropertyNameCaseInsensitive ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
                if (info.Properties.FirstOrDefault(p => string.Equals(p.Name, name.Value, comparison)) is not { } property)
                {
                    return null;
                }

                info = options.GetTypeInfo(property.PropertyType);
            }
            else if (info.ElementType is { } element)
            {
                info = options.GetTypeInfo(element);
            }
            else
            {
                return null;
            }
        }

        return Expectation(info);
    }

    private static string? Expectation(JsonTypeInfo info)
    {
        if (Nullable.GetUnderlyingType(info.Type) is { } underlying)
        {
            return Expectation(info.Options.GetTypeInfo(underlying)) is { } expectation ? $"{expectation} or null" : null;
        }

        var type = info.Type;
        if (type == typeof(string))
        {
            return "a string";
        }

        if (type == typeof(bool))
        {
            return "true or false";
        }

        if (type == typeof(double) || type == typeof(float) || type == typeof(decimal))
        {
            return "a number";
        }

        if (type == typeof(int) || type == typeof(long) || type == typeof(short))
        {
            return "a whole number";
        }

        if (type == typeof(DateTimeOffset))
        {
            return Rfc3339.Expectation;
        }

        return info.Kind switch
        {
            JsonTypeInfoKind.Enumerable => "an array",
            JsonTypeInfoKind.Object or JsonTypeInfoKind.Dictionary => "an object",
            _ => null,
        };
    }

    /// <summary>A property (<c>.name</c>) or an index (<c>[3]</c>) of a System.Text.Json path.</summary>
    [GeneratedRegex(@"\.(?<name>[^.\[]+)|\[[0-9]+\]", RegexOptions.CultureInvariant)]
    private static partial Regex PathSegment();
}
