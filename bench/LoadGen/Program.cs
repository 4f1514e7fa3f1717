using System.Globalization;
using Kiln.LoadGen;
using Kiln.ServiceDefaults.Kafka;

// Drives a running platform (its state folder's endpoints.json and secrets.json) with devices posting batches,
// and measures the pipeline end to end; bench/run starts the platform and calls this.
//   dotnet bench/LoadGen/bin/Release/net10.0/Kiln.LoadGen.dll STATE_DIR [--duration S] [--clients N] [--batch B]
//       [--rate READINGS_PER_S (0: as fast as it is taken)] [--warmup S] [--sensors N] [--sites N] [--out FILE]
if (args.Length < 1 || args[0].StartsWith("--", StringComparison.Ordinal))
{
    Console.Error.WriteLine("usage: Kiln.LoadGen STATE_DIR [--duration S] [--clients N] [--batch B] [--rate R] [--warmup S] [--sensors N] [--sites N] [--out FILE]");
    return 2;
}

var options = args.Skip(1).ToList();
int Option(string name, int fallback) =>
    options.IndexOf(name) is var i and >= 0 ? int.Parse(options[i + 1], CultureInfo.InvariantCulture) : fallback;
string? Text(string name) => options.IndexOf(name) is var i and >= 0 ? options[i + 1] : null;

KafkaNativeLibrary.Load();
var settings = new LoadSettings(
    Duration: TimeSpan.FromSeconds(Option("--duration", 30)),
    Clients: Option("--clients", 12),
    Batch: Option("--batch", 500),
    Rate: Option("--rate", 0),
    Sensors: Option("--sensors", 2000),
    Sites: Option("--sites", 20))
{
    WarmUp = TimeSpan.FromSeconds(Option("--warmup", 10)),
};
var platform = Platform.Read(args[0]);
var report = await Pipeline.RunAsync(platform, settings);
report = report with { Limits = await Limits.MeasureAsync(platform, settings) };
report.Print(Console.Out);
if (Text("--out") is { } file)
{
    await report.WriteJsonAsync(file);
    Console.Out.WriteLine($"written: {file}");
}

return report.AllStored && report.Throttled == 0 ? 0 : 1;
