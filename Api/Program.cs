using Kiln.Api.Alerts;
using Kiln.Api.Extensions;
using Kiln.Api.Keys;
using Kiln.Api.Readings;
using Kiln.Api.Sensors;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseApiPipeline();
app.MapDefaultEndpoints();
app.MapOpenApi(OpenApiExtensions.DocumentPath);
app.MapApiReference();
app.MapSensorsApi();
app.MapReadingsApi();
app.MapRollupsApi();
app.MapKeysApi();
app.MapAlertsApi();

app.Run();
