using Kiln.AppHost.Model;
using Kiln.AppHost.Resources;
using Kiln.Shared;
using Kiln.Shared.Security;
using Microsoft.Extensions.Configuration;
using static Kiln.Shared.Topology;

var builder = DistributedApplicationBuilder.CreateBuilder(args);

var postgres = builder.AddPostgres("pg");
var db = postgres.AddDatabase(Resources.Database);
var cache = builder.AddRedis(Resources.Cache);
// Six partitions: the development broker finds a fetch's offset by walking the partition's record batches from the
// oldest and answers one batch per partition per fetch, so more partitions mean more, smaller batches to walk, on the
// one thread that also acknowledges every produce. At 50,000 readings/s the Api's p99 was 526 ms with 24, 101 ms with 6.
var kafka = builder.AddKafka(Resources.Kafka)
    .WithTopic(Topics.Readings, partitions: 6)
    .WithTopic(Topics.ReadingsDeadLetter, partitions: 6)
    .WithTopic(Topics.Alerts, partitions: 1);

var api = builder.AddProject(Resources.Api, "Kiln.Api")
    .WithReplicas(2)
    .WithReference(db).WaitFor(db)
    .WithReference(cache).WaitFor(cache)
    .WithReference(kafka).WaitFor(kafka)
    .WithEnvironment("Kiln__BootstrapKeys__Admin", run => ApiKeyHash.Compute(run.Secrets.AdminApiKey))
    .WithEnvironment("Kiln__BootstrapKeys__Ingest", run => ApiKeyHash.Compute(run.Secrets.IngestApiKey))
    .WithEnvironment("Kiln__BootstrapKeys__Read", run => ApiKeyHash.Compute(run.Secrets.ReadApiKey))
    .WithEnvironment("Kiln__BootstrapKeys__Web", run => ApiKeyHash.Compute(run.Secrets.WebApiKey!))
    .WithEnvironment("Kiln__BootstrapKeys__Simulator", run => ApiKeyHash.Compute(run.Secrets.SimulatorApiKey!))
    .WithEnvironment(builder.Configuration.GetSection("Kiln:RateLimits")); // e.g. --Kiln:RateLimits:Ingest:PermitsPerSecond=500

builder.AddProject(Resources.Worker, "Kiln.Worker")
    .WithReplicas(2)
    .WithReference(db).WaitFor(db)
    .WithReference(cache).WaitFor(cache)
    .WithReference(kafka).WaitFor(kafka);

var web = builder.AddProject(Resources.Web, "Kiln.Web")
    .WithReference(api).WaitFor(api)
    .WithReference(cache).WaitFor(cache)
    .WithEnvironment("Kiln__Api__Key", run => run.Secrets.WebApiKey!)
    .WithEnvironment("Kiln__Web__OperatorPasswordHash", run => OperatorPassword.Hash(run.Secrets.OperatorPassword));

// The demo cement plant, streaming through the Api with a key of its own; leave it out with --no-simulator (tests always do).
if (builder.Configuration.GetValue("Kiln:Simulator:Enabled", defaultValue: true))
{
    builder.AddProject(Resources.Simulator, "Kiln.Simulator")
        .WithReference(api).WaitFor(api)
        .WithEnvironment("Kiln__Api__Key", run => run.Secrets.SimulatorApiKey!)
        .WithEnvironment(builder.Configuration.GetSection("Kiln:Simulator")); // e.g. --Kiln:Simulator:Seed=7
}

// CORS: the one browser origin the Api answers. A value, not a reference: the Web waits for the Api, never the reverse.
api.WithEnvironment("Kiln__Cors__Origins__0", web.GetEndpoint("http"));

return builder.Build().Run();
