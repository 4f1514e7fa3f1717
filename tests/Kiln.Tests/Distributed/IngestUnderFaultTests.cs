using System.Diagnostics;
using Kiln.AppHost.Resources;
using Kiln.AppHost.Testing;
using Kiln.Tests.Kafka;
using Xunit.Abstractions;

namespace Kiln.Tests.Distributed;

/// <summary>
/// A 202 means stored, eventually, always (issue 6): twelve devices post batches of 500 as fast as the
/// Api takes them for 20 s while a fault strikes, and afterwards PostgreSQL holds every acknowledged
/// batch whole. The Api may refuse with 503 and Retry-After while the broker could not keep more for the
/// Worker; it must not refuse everything, and within 10 s of a fault's end it must take and store readings again. Every sensor's readings cross its alert threshold now and then: every alert
/// transition they make must be recorded and produced to kiln.alerts exactly once, fault or not. These tests load the
/// machine, so they have a platform of their own.
/// </summary>
[Collection(PlatformTestGroup.Name)]
public sealed class IngestUnderFaultTests(OwnPlatformFixture platform, ITestOutputHelper output)
    : IClassFixture<OwnPlatformFixture>, IDisposable
{
    private static readonly TimeSpan Run = TimeSpan.FromSeconds(24);
    private static readonly TimeSpan FaultAfter = TimeSpan.FromSeconds(4);

    /// <summary>The bound: the Api takes readings again, and the Worker stores again, this soon after a fault ends.</summary>
    private static readonly TimeSpan RecoveryBound = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan DrainDeadline = TimeSpan.FromMinutes(3);

    /// <summary>A floor that no "refuse everything" answer reaches, and that a loaded 2-core machine clears many times over.</summary>
    private const long MinimumAcknowledged = 100_000;

    [Fact]
    public Task Without_a_fault_every_acknowledged_reading_is_stored() => RunAsync("loadnofault", fault: null);

    [Fact]
    public Task A_worker_replica_killed_under_load_loses_nothing_acknowledged() => RunAsync("loadkill", async () =>
    {
        await Task.Delay(FaultAfter);
        var replica = platform.App.Resource<ProjectResource>("worker").RunningReplicas[0];
        using var process = Process.GetProcessById(replica.Pid ?? throw new InvalidOperationException("worker-0 has no process"));
        process.Kill(); // SIGKILL: no graceful leave, no final commit
        output.WriteLine($"SIGKILLed {replica.DisplayName} at {FaultAfter.TotalSeconds:0} s");
    });

    [Fact]
    public Task PostgreSQL_stopped_for_10_s_under_load_loses_nothing_acknowledged() => RunAsync("loadpgstop", async () =>
    {
        await Task.Delay(FaultAfter);
        await platform.App.StopResourceAsync("pg");
        output.WriteLine($"stopped pg at {FaultAfter.TotalSeconds:0} s");
        await Task.Delay(TimeSpan.FromSeconds(10)); // the outage itself, as long as the issue asks
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await platform.App.StartResourceAsync("pg", deadline.Token);
        output.WriteLine("pg running again");
    });

    [Fact]
    public Task The_broker_down_for_5_s_under_load_loses_nothing_acknowledged() => RunAsync("loadbrokerdown", fault: async () =>
    {
        await Task.Delay(FaultAfter);
        var control = platform.App.GetEndpoint("kafka", "control");
        Assert.Equal("ok", await DevKafkaControl.SendAsync(control, "broker-down"));
        output.WriteLine($"broker down at {FaultAfter.TotalSeconds:0} s");
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(5)); // the outage itself, as long as the issue asks
        }
        finally
        {
            Assert.Equal("ok", await DevKafkaControl.SendAsync(control, "broker-up"));
            output.WriteLine("broker up again");
        }
    });

    [Fact]
    public Task Redis_stopped_for_10_s_under_load_loses_nothing_acknowledged() => RunAsync("loadredisstop", async () =>
    {
        await Task.Delay(FaultAfter);
        await platform.App.StopResourceAsync("cache");
        output.WriteLine($"stopped cache at {FaultAfter.TotalSeconds:0} s");
        await Task.Delay(TimeSpan.FromSeconds(10));
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await platform.App.StartResourceAsync("cache", deadline.Token);
        output.WriteLine("cache running again");
    });

    private async Task RunAsync(string run, Func<Task>? fault)
    {
        var load = new IngestLoad(platform.App, platform.Api, run);
        await load.CreateGatewaysAsync();

        TimeSpan? apiBack = null, workerBack = null;
        var elapsed = await load.RunAsync(Run, fault is null ? null : async () =>
        {
            await fault();
            var ended = Stopwatch.GetTimestamp();
            var storedAtEnd = await load.CountStoredSampleAsync();
            await Eventually.TrueAsync(() => load.LastAcknowledgedAt > ended, RecoveryBound, "the Api to acknowledge a batch again after the fault");
            apiBack = Stopwatch.GetElapsedTime(ended, load.LastAcknowledgedAt);
            await Eventually.TrueAsync(async () => await load.CountStoredSampleAsync() > storedAtEnd, RecoveryBound - Stopwatch.GetElapsedTime(ended),
                "the Worker to store readings again after the fault");
            workerBack = Stopwatch.GetElapsedTime(ended);
        });
        if (fault is not null)
        {
            output.WriteLine($"{run}: after the fault ended, the Api acknowledged again in {apiBack!.Value.TotalSeconds:0.0} s " +
                $"and the Worker stored again within {workerBack!.Value.TotalSeconds:0.0} s");
        }

        var drain = Stopwatch.StartNew();
        var stored = await load.AwaitStoredAsync(DrainDeadline);

        output.WriteLine($"{run}: {load.Acknowledged:N0} readings acknowledged in {elapsed.TotalSeconds:0.0} s " +
            $"({load.Acknowledged / elapsed.TotalSeconds:N0}/s), {load.Refused:N0} refused in {load.RefusedRequests:N0} requests, " +
            $"{stored:N0} stored; all stored {drain.Elapsed.TotalSeconds:0.0} s after the load ended");
        foreach (var reason in load.RefusalReasons)
        {
            output.WriteLine($"refused: {reason}");
        }

        Assert.Equal(load.Acknowledged, stored);
        Assert.True(load.Acknowledged >= MinimumAcknowledged, $"only {load.Acknowledged:N0} readings were acknowledged: ingest was refused instead of carried");

        // Every transition is recorded once and is on kiln.alerts once, whatever the fault.
        var transitions = await load.AwaitAlertsAsync(DrainDeadline);
        output.WriteLine($"{run}: {transitions:N0} alert transitions, each recorded once and on kiln.alerts");
        Assert.True(transitions > 0, "the load's readings crossed no threshold: the alert check checked nothing");
    }

    public void Dispose() => platform.App.WriteLogs(output);
}
