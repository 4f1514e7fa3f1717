using System.Collections.Concurrent;
using System.Diagnostics;

namespace Kiln.Tests.Redis;

/// <summary>
/// Starts child processes under <c>setpriv --pdeathsig SIGKILL</c> so they die with the test host
/// even if it crashes before disposing them. Linux ties that signal to the thread that forked the
/// child, so every child is forked from this one thread, which lives as long as the test host.
/// </summary>
internal static class ParentBoundProcess
{
    private static readonly BlockingCollection<(Process Process, TaskCompletionSource Started)> Requests = [];

    static ParentBoundProcess()
    {
        var thread = new Thread(StartRequestedProcesses) { IsBackground = true, Name = "child process starter" };
        thread.Start();
    }

    public static async Task<Process> StartAsync(string fileName, IEnumerable<string> arguments, Action<string> onOutputLine)
    {
        var startInfo = new ProcessStartInfo("setpriv")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in (string[])["--pdeathsig", "SIGKILL", "--", fileName, .. arguments])
        {
            startInfo.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => ForwardLine(e.Data, onOutputLine);
        process.ErrorDataReceived += (_, e) => ForwardLine(e.Data, onOutputLine);

        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Requests.Add((process, started));
        await started.Task;

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    // The final event of a stream carries null: end of output, not a line.
    private static void ForwardLine(string? line, Action<string> onOutputLine)
    {
        if (line is not null)
        {
            onOutputLine(line);
        }
    }

    private static void StartRequestedProcesses()
    {
        foreach (var (process, started) in Requests.GetConsumingEnumerable())
        {
            try
            {
                process.Start();
                started.SetResult();
            }
            catch (Exception ex)
            {
                started.SetException(ex);
            }
        }
    }
}
