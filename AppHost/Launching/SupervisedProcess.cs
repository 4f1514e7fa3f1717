using Kiln.AppHost.Model;

namespace Kiln.AppHost.Launching;

/// <summary>
/// A resource's process, kept running. Once ready it is supervised: an exit the AppHost did not ask for
/// is a crash, reported at error level (name, exit code or signal); what is left of the crashed process's
/// group is ended, and the process is started again the same way (same arguments, so the same address
/// and data) after a backoff of 1 s doubling to 30 s, reset after a minute of good health, then waited
/// for until ready again. A stop request is never a crash, and a stop that races a restart ends the
/// new process too. <paramref name="name"/> names it in the AppHost's messages; its output goes to <paramref name="log"/>.
/// </summary>
internal sealed class SupervisedProcess(string name, ResourceLog log, RunContext context, SupervisedProcess.Lifecycle lifecycle)
{
    private static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LongestBackoff = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan HealthyLongEnough = TimeSpan.FromMinutes(1);

    private readonly Lock _gate = new();
    private bool _stopRequested;
    private Action? _cancelSupervision;
    private ChildProcess? _process;
    private Task? _supervision;

    /// <summary>What differs between kinds of resource: how to launch, how to know it is ready, what to tell.</summary>
    internal sealed record Lifecycle(
        Func<ResourceLog, Task<ChildProcess>> Launch,
        Func<ChildProcess, CancellationToken, Task> WaitUntilReady,
        TimeSpan StopGrace)
    {
        /// <summary>After a crash, before the backoff (a resource shows Starting; the broker says its data is gone).</summary>
        public Action<int>? Crashed { get; init; }

        /// <summary>After a restarted process is ready again.</summary>
        public Action? Recovered { get; init; }
    }

    public int? Pid => _process?.Pid;

    public int Restarts { get; private set; }

    /// <summary>When the current process was launched (the first, or the latest restart).</summary>
    public DateTimeOffset? StartedAt { get; private set; }

    /// <summary>Launches the process, returns once it is ready, then supervises it.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _process = await lifecycle.Launch(log);
        StartedAt = DateTimeOffset.UtcNow;
        await lifecycle.WaitUntilReady(_process, cancellationToken);
        _supervision = SuperviseAsync();
    }

    public async Task StopAsync()
    {
        lock (_gate)
        {
            _stopRequested = true;
            _cancelSupervision?.Invoke();
        }

        if (_process is { } process)
        {
            await process.StopAsync(lifecycle.StopGrace);
        }

        if (_supervision is { } supervision)
        {
            await supervision;
        }
    }

    private async Task SuperviseAsync()
    {
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(context.Stopping);
        lock (_gate)
        {
            if (_stopRequested)
            {
                return;
            }

            _cancelSupervision = stopping.Cancel;
        }

        try
        {
            await RestartAfterCrashesAsync(stopping.Token);
        }
        finally
        {
            lock (_gate)
            {
                _cancelSupervision = null;
            }
        }
    }

    private async Task RestartAfterCrashesAsync(CancellationToken stopping)
    {
        var backoff = FirstBackoff;
        var readyAt = DateTime.UtcNow;
        while (true)
        {
            var crashed = _process!;
            var exitCode = await crashed.Exited;
            if (stopping.IsCancellationRequested)
            {
                return;
            }

            if (DateTime.UtcNow - readyAt > HealthyLongEnough)
            {
                backoff = FirstBackoff;
            }

            // Its own children (PostgreSQL's backends) must not outlive it, nor hold its data folder.
            Signals.EndGroup(crashed.Pid);
            context.SayError($"{name} (pid {crashed.Pid}) {DescribeExit(exitCode)}; restarting in {backoff.TotalSeconds:0} s");
            lifecycle.Crashed?.Invoke(exitCode);
            try
            {
                await Task.Delay(backoff, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, LongestBackoff.Ticks));
            try
            {
                _process = await lifecycle.Launch(log);
            }
            catch (Exception ex)
            {
                // The old, exited process stays current: the loop backs off and tries again.
                context.SayError($"{name} could not be restarted: {ex.Message}");
                continue;
            }

            Restarts++;
            StartedAt = DateTimeOffset.UtcNow;
            if (stopping.IsCancellationRequested)
            {
                // A stop raced the restart and may have missed this process: end it here.
                await _process.StopAsync(lifecycle.StopGrace);
                return;
            }

            try
            {
                await lifecycle.WaitUntilReady(_process, stopping);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                await _process.StopAsync(lifecycle.StopGrace);
                return;
            }
            catch (Exception ex)
            {
                // Exited again: the loop sees it at once. Running but not ready: it is supervised anyway.
                context.SayError($"{name} did not become ready after its restart: {ex.Message}");
                continue;
            }

            readyAt = DateTime.UtcNow;
            context.Say($"{name} restarted (pid {_process.Pid}) and ready");
            lifecycle.Recovered?.Invoke();
        }
    }

    /// <summary>"exited with code 1" or, for the 128 + n the runtime reports for a signal, "was killed by signal 9 (SIGKILL)".</summary>
    internal static string DescribeExit(int exitCode) => exitCode switch
    {
        > 128 and < 128 + 65 => $"was killed by signal {exitCode - 128}{SignalName(exitCode - 128)}",
        _ => $"exited with code {exitCode}",
    };

    private static string SignalName(int signal) => signal switch
    {
        Signals.SigKill => " (SIGKILL)",
        Signals.SigTerm => " (SIGTERM)",
        Signals.SigInt => " (SIGINT)",
        6 => " (SIGABRT)",
        11 => " (SIGSEGV)",
        _ => "",
    };
}
