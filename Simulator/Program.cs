using Kiln.Simulator.Feeding;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddIngestClient();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.Configure<SimulatorOptions>(builder.Configuration.GetSection("Kiln:Simulator"));
builder.Services.AddHostedService<PlantFeeder>();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
