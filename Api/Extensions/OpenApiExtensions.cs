using Kiln.Api.Readings;
using Kiln.Api.Security;
using Kiln.Shared.Sensors;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Kiln.Api.Extensions;

/// <summary>
/// The OpenAPI document at <c>/openapi/v1.json</c>: every endpoint with the key scheme it needs (<c>X-Api-Key</c>, the
/// scopes as its roles) and the problem-details answers it can give. Endpoints declare their own problems
/// (<see cref="ProducesProblems"/>); those every keyed endpoint can give come with <see cref="ApiKeyEndpoints.RequireApiKey"/>.
/// </summary>
internal static class OpenApiExtensions
{
    public const string DocumentPath = "/openapi/v1.json";

    public const string SecuritySchemeName = "ApiKey";

    public static IServiceCollection AddKilnOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(options =>
        {
            options.AddDocumentTransformer<ApiKeyScheme>();
            options.AddOperationTransformer<ApiKeyRequirement>();
            options.AddSchemaTransformer<ReadingInputSchema>();
        });

    /// <summary>Declares problem-details answers (<c>application/problem+json</c>) with these statuses.</summary>
    public static TBuilder ProducesProblems<TBuilder>(this TBuilder endpoint, params int[] statuses) where TBuilder : IEndpointConventionBuilder
    {
        foreach (var status in statuses)
        {
            endpoint.WithMetadata(new ProducesResponseTypeMetadata(status, typeof(ProblemDetails), ["application/problem+json"]));
        }

        return endpoint;
    }

    /// <summary>The document says who Kiln is and how keys travel.</summary>
    private sealed class ApiKeyScheme : IOpenApiDocumentTransformer
    {
        public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
        {
            document.Info.Title = "Kiln API";
            document.Info.Description =
                "Sensor telemetry: sensors, readings, latest values and API keys. Every error is RFC 9457 problem details " +
                "(application/problem+json) with a traceId.";
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[SecuritySchemeName] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = ApiKeyScopes.Header,
                Description = $"An API key. Scopes: {string.Join(", ", ApiKeyScopes.All)} (admin may also read and declare sensors); a key may be bound to one site.",
            };
            return Task.CompletedTask;
        }
    }

    /// <summary>
    /// An endpoint that requires a key names the scheme, with the scope it needs as the requirement's role (OpenAPI 3.1
    /// lets a non-OAuth requirement list roles).
    /// </summary>
    private sealed class ApiKeyRequirement : IOpenApiOperationTransformer
    {
        public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
        {
            var scopes = context.Description.ActionDescriptor.EndpointMetadata.OfType<IAuthorizeData>()
                .Select(a => a.Policy).OfType<string>().Distinct().ToList();
            if (scopes.Count > 0)
            {
                operation.Security =
                [
                    new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SecuritySchemeName, context.Document)] = scopes },
                ];
            }

            return Task.CompletedTask;
        }
    }

    /// <summary>
    /// A batch item is read by its own converter (<see cref="ReadingInputConverter"/>), which the schema generator
    /// cannot see through: this describes what it reads.
    /// </summary>
    private sealed class ReadingInputSchema : IOpenApiSchemaTransformer
    {
        public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
        {
            // The generator leaves a converted type's schema out altogether, so the array of them gets its items here.
            if (context.JsonTypeInfo.ElementType == typeof(ReadingInput))
            {
                schema.Items = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    Required = new HashSet<string> { "sensorId", "timestamp", "value" },
                    Properties = new Dictionary<string, IOpenApiSchema>
                    {
                        ["sensorId"] = new OpenApiSchema
                        {
                            Type = JsonSchemaType.String, MaxLength = SensorId.MaxLength, Pattern = "^[a-z0-9_-]+(\\.[a-z0-9_-]+)*$",
                        },
                        ["timestamp"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "date-time", Description = Rfc3339.Expectation },
                        ["value"] = new OpenApiSchema { Type = JsonSchemaType.Number, Format = "double" },
                    },
                };
            }

            return Task.CompletedTask;
        }
    }
}
