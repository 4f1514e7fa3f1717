using System.Text.Json;
using Npgsql;

namespace Kiln.LoadGen;

/// <summary>A running platform as its AppHost describes it in its state folder.</summary>
/// <param name="Apis">Every Api replica's base address; the first is <see cref="Api"/>.</param>
internal sealed record Platform(IReadOnlyList<Uri> Apis, string Kafka, string Database, string AdminKey, string IngestKey, string ReadKey,
    IReadOnlyList<(int Pid, string Resource)> Processes)
{
    public static Platform Read(string stateDirectory)
    {
        using var endpoints = JsonDocument.Parse(File.ReadAllText(Path.Combine(stateDirectory, "endpoints.json")));
        using var secrets = JsonDocument.Parse(File.ReadAllText(Path.Combine(stateDirectory, "secrets.json")));
        using var processes = JsonDocument.Parse(File.ReadAllText(Path.Combine(stateDirectory, "processes.json")));
        string Secret(string name) => secrets.RootElement.GetProperty(name).GetString()!;
        var pg = endpoints.RootElement.GetProperty("pg").GetProperty("endpoint").GetString()!.Split(':');
        var database = new NpgsqlConnectionStringBuilder
        {
            Host = pg[0],
            Port = int.Parse(pg[1], System.Globalization.CultureInfo.InvariantCulture),
            Username = "postgres",
            Password = Secret("postgresPassword"),
            Database = "kilndb",
        }.ConnectionString;
        return new Platform(
            [.. endpoints.RootElement.GetProperty("api").GetProperty("urls").EnumerateArray().Select(u => new Uri(u.GetString()!))],
            endpoints.RootElement.GetProperty("kafka").GetProperty("endpoint").GetString()!,
            database,
            Secret("adminApiKey"), Secret("ingestApiKey"), Secret("readApiKey"),
            [.. processes.RootElement.EnumerateArray().Select(p => (p.GetProperty("Pid").GetInt32(), p.GetProperty("Resource").GetString()!))]);
    }

    public Uri Api => Apis[0];
}
