using System.Collections.Concurrent;
using System.Diagnostics;
using Kiln.AppHost.Launching;

namespace Kiln.Tests.Kafka;

/// <summary>
/// One development broker process. It is started through <c>setpriv --pdeathsig SIGKILL</c> so it dies
/// with the test host even if disposal never runs; Linux ties that signal to the thread that forked the
/// child, so a dedicated thread starts it and stays alive until the broker is gone.
/// </summary>
internal sealed class DevKafkaProcess : IAsyncDisposable
{
    private const string BootstrapPrefix = "KAFKA_BOOTSTRAP=";
    private const string ControlPrefix = "KAFKA_CONTROL=";
    private const string ListenerPrefix = "KAFKA_LISTENER=";

    private readonly Process _process;
    private readonly ManualResetEventSlim _releaseLauncher;
    private readonly ConcurrentQueue<string> _output;

    private DevKafkaProcess(Process process, ManualResetEventSlim releaseLauncher, ConcurrentQueue<string> output, string bootstrapServers)
    {
        _process = process;
        _releaseLauncher = releaseLauncher;
        _output = output;
        BootstrapServers = bootstrapServers;
    }

    public string BootstrapServers { get; }

    /// <summary><c>tcp://127.0.0.1:port</c> of the control port, when the broker was started with <c>--control-port</c>.</summary>
    public Uri? ControlEndpoint =>
        _output.FirstOrDefault(line => line.StartsWith(ControlPrefix, StringComparison.Ordinal)) is { } line
            ? new Uri($"tcp://{line[ControlPrefix.Length..]}")
            : null;

    /// <summary>The port the (first) broker listens on, whatever it advertises.</summary>
    public int ListenerPort =>
        _output.FirstOrDefault(line => line.StartsWith(ListenerPrefix, StringComparison.Ordinal)) is { } line
            ? int.Parse(line[ListenerPrefix.Length..].Split(',')[0].Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture)
            : throw new InvalidOperationException("The dev broker announced no listener.");

    public int Id => _process.Id;

    public string Output => string.Join(Environment.NewLine, _output);

    public static async Task<DevKafkaProcess> StartAsync(IEnumerable<string> arguments, TimeSpan readyTimeout)
    {
        var startInfo = new ProcessStartInfo("setpriv")
        {
            RedirectStandardInput = true, // the broker must not depend on stdin; give it one that stays open
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["--pdeathsig", "SIGKILL", "--", "dotnet", DevKafkaLocator.FindAssembly(), .. arguments])
        {
            startInfo.ArgumentList.Add(argument);
        }

        var output = new ConcurrentQueue<string>();
        var bootstrap = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseLauncher = new ManualResetEventSlim();
        var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not { } line)
            {
                return;
            }

            output.Enqueue(line);
            if (line.StartsWith(BootstrapPrefix, StringComparison.Ordinal))
            {
                bootstrap.TrySetResult(line[BootstrapPrefix.Length..]);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                output.Enqueue($"stderr: {line}");
            }
        };
        process.Exited += (_, _) => bootstrap.TrySetException(
            new InvalidOperationException($"The dev broker exited before it was ready:{Environment.NewLine}{string.Join(Environment.NewLine, output)}"));

        await LaunchOnDedicatedThread(process, releaseLauncher);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        try
        {
            var bootstrapServers = await bootstrap.Task.WaitAsync(readyTimeout);
            return new DevKafkaProcess(process, releaseLauncher, output, bootstrapServers);
        }
        catch (TimeoutException)
        {
            await using var failed = new DevKafkaProcess(process, releaseLauncher, output, "");
            throw new TimeoutException($"The dev broker printed no {BootstrapPrefix} line within {readyTimeout}:{Environment.NewLine}{failed.Output}");
        }
    }

    /// <summary>Sends SIGTERM to this broker's PID, waits for a clean exit, and kills it only if it does not come.</summary>
    /// <returns>Whether it exited by itself with code 0 within <paramref name="timeout"/>.</returns>
    public async Task<bool> StopAsync(TimeSpan timeout)
    {
        try
        {
            if (_process.HasExited)
            {
                return _process.ExitCode == 0;
            }

            _ = Signals.Send(_process.Id, Signals.SigTerm);
            using var deadline = new CancellationTokenSource(timeout);
            try
            {
                await _process.WaitForExitAsync(deadline.Token);
                return _process.ExitCode == 0;
            }
            catch (OperationCanceledException)
            {
                _process.Kill(); // SIGKILL to this PID only
                await _process.WaitForExitAsync();
                return false;
            }
        }
        finally
        {
            _releaseLauncher.Set();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(5));
        _process.Dispose();
        _releaseLauncher.Dispose();
    }

    private static Task LaunchOnDedicatedThread(Process process, ManualResetEventSlim releaseLauncher)
    {
        var launched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var launcher = new Thread(() =>
        {
            try
            {
                process.Start();
                launched.SetResult();
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                launched.SetException(e);
                return;
            }

            releaseLauncher.Wait(); // leaving this thread would SIGKILL the broker
        })
        {
            IsBackground = true,
            Name = "dev-broker-launcher",
        };
        launcher.Start();
        return launched.Task;
    }
}
