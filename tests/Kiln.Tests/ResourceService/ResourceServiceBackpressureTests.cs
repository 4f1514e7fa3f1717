using System.Diagnostics;
using System.Threading.Channels;
using Grpc.Core;
using Kiln.AppHost.Model;
using Kiln.AppHost.ResourceService;
using Kiln.ResourceService.V1;
using Kiln.Tests.AppHost;

namespace Kiln.Tests.ResourceService;

/// <summary>
/// A slow or gone watcher never holds up the AppHost. An app model of one scripted resource (no platform to boot): the
/// resource service and the orchestration around it are the real ones.
/// </summary>
public sealed class ResourceServiceBackpressureTests : IAsyncDisposable
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(60);
    private readonly OneResourceApp _host = new();

    [Fact]
    public async Task A_console_watcher_that_falls_behind_loses_its_oldest_lines_and_is_told_how_many()
    {
        var app = await StartAsync();
        var log = app.Context.LogFor("probe");
        log.Write("first");
        using var service = new ResourceServiceDriver(app);
        using var call = service.Client.WatchResourceConsoleLogs(new WatchResourceConsoleLogsRequest { ResourceName = "probe" }, service.Headers);
        using var deadline = new CancellationTokenSource(Within);
        Assert.True(await call.ResponseStream.MoveNext(deadline.Token));
        Assert.Equal("first", Assert.Single(call.ResponseStream.Current.LogLines).Text);

        // The watcher reads nothing while the resource writes far more than its backlog and the transport's buffers hold.
        const int Written = 200_000;
        var padding = new string('x', 100);
        var writing = Stopwatch.StartNew();
        await Task.Run(() =>
        {
            for (var i = 1; i <= Written; i++)
            {
                log.Write($"line {i} {padding}");
            }
        }).WaitAsync(Within);
        writing.Stop();

        // Then it catches up: every line is either delivered, in order, or counted as skipped right where it is missing.
        long delivered = 0, skipped = 0, last = 1;
        while (last < Written + 1)
        {
            Assert.True(await call.ResponseStream.MoveNext(deadline.Token), "the stream ended early");
            foreach (var line in call.ResponseStream.Current.LogLines)
            {
                Assert.Equal(last + 1 + line.SkippedBefore, line.LineNumber);
                Assert.Equal($"line {line.LineNumber - 1} {padding}", line.Text);
                delivered++;
                skipped += line.SkippedBefore;
                last = line.LineNumber;
            }
        }

        Assert.Equal(Written, delivered + skipped);
        Assert.True(skipped > 0, "nothing was dropped: the test did not make the watcher fall behind");
        Assert.True(delivered >= ResourceGrpcService.ConsoleBacklog, $"only {delivered} lines delivered");
        // The resource's output was never held up by the watcher: 200,000 lines written well within the deadline.
        Assert.True(writing.Elapsed < Within, $"writing took {writing.Elapsed}");
    }

    [Fact]
    public async Task A_resource_watcher_that_falls_behind_is_dropped_and_the_others_go_on()
    {
        var app = await StartAsync();
        var probe = app.Resource<ScriptedResource>("probe");
        await using var feed = new ResourceFeed(app, app.Health, []);
        var (_, slow, slowSubscription) = feed.Watch();
        var (_, fast, fastSubscription) = feed.Watch();
        using (slowSubscription)
        using (fastSubscription)
        {
            // One state change at a time, each seen by the reading watcher before the next: at least one update each, for both.
            for (var toggle = 0; toggle <= ResourceFeed.WatcherBacklog; toggle++)
            {
                var target = probe.State == ResourceState.Running ? ResourceState.Starting : ResourceState.Running;
                probe.State = target;
                await SeenAsync(fast, target.ToString());
            }

            // The one that read nothing was dropped once its backlog was full: it gets what it holds, then the reason.
            var held = 0;
            using var reading = new CancellationTokenSource(Within);
            var dropped = await Assert.ThrowsAsync<WatcherFellBehindException>(async () =>
            {
                await foreach (var _ in slow.ReadAllAsync(reading.Token))
                {
                    held++;
                }
            });
            Assert.Equal(ResourceFeed.WatcherBacklog, held);
            Assert.Contains("watch again", dropped.Message, StringComparison.Ordinal);

            // The reading watcher goes on.
            probe.State = ResourceState.Exited;
            await SeenAsync(fast, "Exited");
        }

        static async Task SeenAsync(ChannelReader<WatchResourcesChanges> reader, string state)
        {
            using var deadline = new CancellationTokenSource(Within);
            while (true)
            {
                var changes = await reader.ReadAsync(deadline.Token);
                if (changes.Value.Any(c => c.Upsert is { Name: "probe" } upsert && upsert.State == state))
                {
                    return;
                }
            }
        }
    }

    [Fact]
    public async Task A_watcher_of_a_small_app_gets_its_resource_and_its_console_lines_end_when_asked()
    {
        var app = await StartAsync();
        app.Context.LogFor("probe").Write("to standard error", isError: true);
        using var service = new ResourceServiceDriver(app);
        using var watch = service.Watch();

        var probe = Assert.Single(await watch.Initial);
        Assert.Equal(("probe", "probe", "Executable", "Running"), (probe.Name, probe.DisplayName, probe.ResourceType, probe.State));

        using var call = service.Client.WatchResourceConsoleLogs(
            new WatchResourceConsoleLogsRequest { ResourceName = "probe", SuppressFollow = true }, service.Headers);
        var lines = new List<ConsoleLogLine>();
        await foreach (var update in call.ResponseStream.ReadAllAsync())
        {
            lines.AddRange(update.LogLines);
        }

        var line = Assert.Single(lines);
        Assert.Equal(("to standard error", true, 1L), (line.Text, line.IsStdErr, line.LineNumber));
    }

    private Task<DistributedApplication> StartAsync() => _host.StartAsync(new ScriptedResource("probe"));

    public ValueTask DisposeAsync() => _host.DisposeAsync();

    internal sealed class ScriptedResource(string name) : Kiln.AppHost.Model.Resource(name)
    {
        public override string Type => "scripted";

        internal override Task StartAsync(RunContext context, CancellationToken cancellationToken) => Task.CompletedTask;

        internal override Task StopAsync() => Task.CompletedTask;

        internal override object? DescribeEndpoint() => null;
    }
}
