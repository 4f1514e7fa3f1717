using Kiln.Api.Readings;
using Kiln.Shared.Sensors;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Kiln.Api.Extensions;

internal static class OpenApiExtensions
{
    public static IServiceCollection AddKilnOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(options => options.AddSchemaTransformer<ReadingInputSchema>());

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
