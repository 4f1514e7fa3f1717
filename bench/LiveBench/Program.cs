// How many live updates per second an open overview page absorbs. Starts the built AppHost (without the simulator) on
// a state folder of its own, creates a fleet, opens the overview in Chromium (/usr/bin/chromium) signed in, then posts
// readings at rising rates, a few seconds each, with each reading's value set to the wall-clock millisecond it was sent.
// The page's own handler of /live's `reading` events is wrapped to count the events it applied to the table and how long
// after its POST each arrived, and a timer measures how late the page's event loop runs. Everything stays on loopback.
//
//   dotnet build App.sln && dotnet run --project bench/LiveBench -c Release -- [--sensors 500] [--rates 100,250,500,1000,2000,4000] [--seconds 5]
//
// The first rate runs once more before the others, unreported, to warm the services up. A rate is absorbed when the
// page applies about every new latest value (the Worker publishes one per sensor per stored batch, so a little less
// than what was posted) and its p99 lag stays under a second.
//
// Run from the repository root. Bounded: at most --seconds per rate, at most 10 rates, at most 10,000 readings/s.
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;

var sensors = Option("--sensors", 500);
var seconds = Option("--seconds", 5);
var rates = (OptionText("--rates") ?? "100,250,500,1000,2000,4000").Split(',').Select(r => int.Parse(r, CultureInfo.InvariantCulture)).ToArray();
if (rates.Length > 10 || rates.Any(r => r is < 10 or > 10_000) || seconds is < 1 or > 30 || sensors is < 10 or > 5000)
{
    Console.Error.WriteLine("livebench: at most 10 rates of 10 to 10,000 readings/s, 1 to 30 s each, 10 to 5,000 sensors");
    return 2;
}

if (rates.Max() / 10 > sensors)
{
    Console.Error.WriteLine($"livebench: a batch (a tenth of a second) of {rates.Max()}/s needs at least {rates.Max() / 10} sensors");
    return 2;
}

var state = Directory.CreateTempSubdirectory("kiln-live-bench-").FullName;
File.SetUnixFileMode(state, (UnixFileMode)0b111_101_101);
var apphost = Process.Start(new ProcessStartInfo(Path.Combine("AppHost", "bin", "Debug", "net10.0", "Kiln.AppHost"), ["--state-dir", state, "--no-simulator"])
{
    RedirectStandardOutput = true,
    RedirectStandardError = true,
})!;
apphost.OutputDataReceived += (_, _) => { };
apphost.ErrorDataReceived += (_, _) => { };
apphost.BeginOutputReadLine();
apphost.BeginErrorReadLine();
try
{
    var endpointsFile = Path.Combine(state, "endpoints.json");
    var up = Stopwatch.StartNew();
    while (!File.Exists(endpointsFile))
    {
        if (apphost.HasExited || up.Elapsed > TimeSpan.FromMinutes(2))
        {
            Console.Error.WriteLine("livebench: the AppHost did not come up (build first: dotnet build App.sln)");
            return 1;
        }

        await Task.Delay(100);
    }

    await Task.Delay(200); // written whole, but give the writer its moment
    using var endpoints = JsonDocument.Parse(await File.ReadAllTextAsync(endpointsFile));
    using var secrets = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(state, "secrets.json")));
    var api = new Uri(endpoints.RootElement.GetProperty("api").GetProperty("urls")[0].GetString()!);
    var web = endpoints.RootElement.GetProperty("web").GetProperty("urls")[0].GetString()!;
    string Secret(string name) => secrets.RootElement.GetProperty(name).GetString()!;

    using var admin = new HttpClient { BaseAddress = api };
    admin.DefaultRequestHeaders.Add("X-Api-Key", Secret("adminApiKey"));
    using var ingest = new HttpClient { BaseAddress = api };
    ingest.DefaultRequestHeaders.Add("X-Api-Key", Secret("ingestApiKey"));

    var ids = Enumerable.Range(0, sensors).Select(i => $"live{i % 10}.asset{i / 10:000}.value").ToArray();
    await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (id, ct) =>
    {
        using var put = await admin.PutAsJsonAsync($"/api/v1/sensors/{id}", new { site = id[..id.IndexOf('.', StringComparison.Ordinal)], kind = "value", unit = "ms", rule = (object?)null }, ct);
        put.EnsureSuccessStatusCode();
    });
    var first = DateTimeOffset.UtcNow;
    using (var seed = await ingest.PostAsJsonAsync("/api/v1/readings", new { readings = ids.Select(id => new { sensorId = id, timestamp = first, value = 0.0 }) }))
    {
        seed.EnsureSuccessStatusCode();
    }

    using var playwright = await Playwright.CreateAsync();
    await using var browser = await playwright.Chromium.LaunchAsync(new()
    {
        ExecutablePath = "/usr/bin/chromium",
        Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    });
    var page = await browser.NewPageAsync(new() { BaseURL = web, ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
    await page.AddInitScriptAsync(Probe);
    await page.GotoAsync("/login");
    await page.FillAsync("#password", Secret("operatorPassword"));
    await page.ClickAsync("button[type=submit]");
    await page.WaitForURLAsync(url => url.TrimEnd('/') == web.TrimEnd('/'));
    await Assertions.Expect(page.Locator("#live-state")).ToHaveTextAsync("live", new() { Timeout = 30_000 });
    await Assertions.Expect(page.Locator("tr[data-sensor]")).ToHaveCountAsync(sensors, new() { Timeout = 30_000 });

    Console.WriteLine($"overview open with {sensors} sensors; {seconds} s per rate; lag = POST sent → value applied in the page's table");
    Console.WriteLine("offered/s  posted  applied  applied/s  lag p50 ms  lag p99 ms  lag max ms  event loop late, max ms");
    var next = 0L;
    // The first pass, at the first rate, only warms up the services' JIT and connections: it is not reported.
    foreach (var (rate, warmUp) in rates.Take(1).Select(r => (r, true)).Concat(rates.Select(r => (r, false))))
    {
        await page.EvaluateAsync("window.__probe.reset()");
        var perBatch = rate / 10;
        var posts = new List<Task<HttpResponseMessage>>();
        var posted = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        var run = Stopwatch.StartNew();
        var batchAt = DateTimeOffset.UtcNow;
        while (run.Elapsed < TimeSpan.FromSeconds(seconds))
        {
            // Distinct timestamps per sensor: each batch is 100 ms after the last, and one sensor appears once in a batch.
            batchAt = batchAt.AddMilliseconds(100);
            var now = DateTimeOffset.UtcNow;
            var readings = Enumerable.Range(0, perBatch)
                .Select(_ => new { sensorId = ids[next++ % ids.Length], timestamp = batchAt, value = (double)now.ToUnixTimeMilliseconds() }).ToArray();
            posts.Add(ingest.PostAsJsonAsync("/api/v1/readings", new { readings }));
            posted += readings.Length;
            await timer.WaitForNextTickAsync();
        }

        var answers = await Task.WhenAll(posts);
        var refused = answers.Count(a => !a.IsSuccessStatusCode);
        foreach (var answer in answers)
        {
            answer.Dispose();
        }

        await Task.Delay(TimeSpan.FromSeconds(3)); // what is still on its way arrives
        if (warmUp)
        {
            continue;
        }

        var probe = await page.EvaluateAsync<JsonElement>("window.__probe.report()");
        var applied = probe.GetProperty("n").GetInt32();
        var note = refused > 0 ? $"  ({refused} POSTs refused)" : "";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{rate,9}  {posted,6}  {applied,7}  {applied / (double)seconds,9:0}  {probe.GetProperty("p50").GetDouble(),10:0}  {probe.GetProperty("p99").GetDouble(),10:0}  {probe.GetProperty("max").GetDouble(),10:0}  {probe.GetProperty("loopLate").GetDouble(),10:0}{note}"));
    }

    return 0;
}
finally
{
    using (var kill = Process.Start("kill", ["-TERM", apphost.Id.ToString(CultureInfo.InvariantCulture)]))
    {
        await kill.WaitForExitAsync();
    }

    await apphost.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
    Directory.Delete(state, recursive: true);
}

static int Option(string name, int fallback) => OptionText(name) is { } text ? int.Parse(text, CultureInfo.InvariantCulture) : fallback;

static string? OptionText(string name)
{
    var args = Environment.GetCommandLineArgs();
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
}

internal static partial class Program
{
    /// <summary>
    /// Runs in the page before its own scripts: wraps every `reading` listener so that, after the page's handler has
    /// applied the event, it counts it and records how long after its POST (the value) it arrived; a 50 ms interval
    /// timer records how late the event loop runs it.
    /// </summary>
    private const string Probe = """
        (() => {
          const probe = { n: 0, lags: [], loopLate: 0 };
          probe.reset = () => { probe.n = 0; probe.lags = []; probe.loopLate = 0; };
          probe.report = () => {
            const lags = probe.lags.slice().sort((a, b) => a - b);
            const at = q => lags.length ? lags[Math.min(lags.length - 1, Math.floor(q * lags.length))] : 0;
            return { n: probe.n, p50: at(0.5), p99: at(0.99), max: lags.length ? lags[lags.length - 1] : 0, loopLate: probe.loopLate };
          };
          window.__probe = probe;
          let expected = performance.now() + 50;
          setInterval(() => { const now = performance.now(); probe.loopLate = Math.max(probe.loopLate, now - expected); expected = now + 50; }, 50);
          const add = EventSource.prototype.addEventListener;
          EventSource.prototype.addEventListener = function (type, listener, options) {
            if (type === 'reading') {
              const inner = listener;
              listener = e => { inner(e); probe.n++; probe.lags.push(Date.now() - JSON.parse(e.data).value); };
            }
            return add.call(this, type, listener, options);
          };
        })();
        """;
}
