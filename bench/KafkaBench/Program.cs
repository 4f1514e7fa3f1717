using System.Globalization;
using Kiln.KafkaBench;
using Kiln.ServiceDefaults.Kafka;

// Measures what Kiln's Kafka settings do against a broker, the development broker above all:
//   dotnet tools/DevKafka/bin/Debug/net10.0/Kiln.DevKafka.dll --topic bench:24      (prints KAFKA_BOOTSTRAP=...)
//   dotnet run --project bench/KafkaBench -- fill    BOOTSTRAP bench 24 [--json] [--compression none|lz4|zstd]
//   dotnet run --project bench/KafkaBench -- join    BOOTSTRAP bench [--members 2] [--stagger-ms 300] [--session-ms 3000] [--cooperative]
//   dotnet run --project bench/KafkaBench -- latency BOOTSTRAP bench [--batch 1000] [--rounds 50]
//   dotnet run --project bench/KafkaBench -- e2e     BOOTSTRAP bench [--rounds 50]
//   dotnet run --project bench/KafkaBench -- openloop BOOTSTRAP bench [--rate 25000] [--batch 100] [--seconds 20] [--sensors 2000] [--linger-ms 5] [--producers 1]
//   dotnet run --project bench/KafkaBench -- drain   BOOTSTRAP bench       (after a fill: one group consumer reads it all)
//   dotnet run --project bench/KafkaBench -- forward PORT LISTENER_PORT     (the AppHost's forwarder; DevKafka --advertise 127.0.0.1:PORT)
// Use a fresh topic for each fill: it stops when the broker first drops data.
if (args.Length < 3)
{
    Console.Error.WriteLine("usage: Kiln.KafkaBench fill|join|latency|openloop|e2e|drain BOOTSTRAP TOPIC [options], or forward PORT LISTENER_PORT; see Program.cs");
    return 2;
}

var library = KafkaNativeLibrary.Load();
Console.WriteLine($"librdkafka {library.Version} ({library.Path})");
var (mode, bootstrap, topic) = (args[0], args[1], args[2]);
var options = args.Skip(3).ToList();
int Option(string name, int fallback) =>
    options.IndexOf(name) is var i and >= 0 ? int.Parse(options[i + 1], CultureInfo.InvariantCulture) : fallback;
string Text(string name, string fallback) => options.IndexOf(name) is var i and >= 0 ? options[i + 1] : fallback;

switch (mode)
{
    case "fill":
        await Fill.RunAsync(bootstrap, topic, int.Parse(args[3], CultureInfo.InvariantCulture), json: options.Contains("--json"),
            Text("--compression", "zstd"), clients: Option("--clients", 12), perRequest: Option("--per-request", 500), sensors: Option("--sensors", 200));
        break;
    case "join":
        Join.Run(bootstrap, topic, Option("--members", 2), TimeSpan.FromMilliseconds(Option("--stagger-ms", 300)),
            Option("--session-ms", 3000), cooperative: options.Contains("--cooperative"));
        break;
    case "latency":
        await Latency.ProduceAsync(bootstrap, topic, Option("--batch", 1000), Option("--rounds", 50));
        break;
    case "openloop":
        await OpenLoop.RunAsync(bootstrap, topic, Option("--rate", 25_000), Option("--batch", 100), Option("--seconds", 20),
            Option("--sensors", 2000), Option("--linger-ms", 5), Option("--producers", 1));
        break;
    case "drain":
        Drain.Run(bootstrap, topic);
        break;
    case "forward":
        await Forward.RunAsync(int.Parse(args[1], CultureInfo.InvariantCulture), int.Parse(args[2], CultureInfo.InvariantCulture));
        break;
    case "e2e":
        await Latency.EndToEndAsync(bootstrap, topic, Option("--rounds", 50));
        break;
    default:
        Console.Error.WriteLine($"unknown mode '{mode}'");
        return 2;
}

return 0;
