using Kiln.Simulator.Feeding;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddIngestClient();
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddOptions<SimulatorOptions>().Bind(builder.Configuration.GetSection("Kiln:Simulator"))
    .Validate(o => o.FirstExcursionAfter >= TimeSpan.Zero, "Kiln:Simulator:FirstExcursionAfter must not be negative")
    .Validate(o => o.ExcursionEveryMin.TotalSeconds > Kiln.Simulator.Plant.Excursion.LengthSeconds,
        $"Kiln:Simulator:ExcursionEveryMin must be longer than an excursion ({Kiln.Simulator.Plant.Excursion.LengthSeconds} s)")
    .Validate(o => o.ExcursionEveryMax >= o.ExcursionEveryMin, "Kiln:Simulator:ExcursionEveryMax must be at least ExcursionEveryMin")
    .Validate(o => o.MaxBacklog >= TimeSpan.FromSeconds(1), "Kiln:Simulator:MaxBacklog must be at least 1 s")
    .ValidateOnStart();
builder.Services.AddHostedService<PlantFeeder>();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
