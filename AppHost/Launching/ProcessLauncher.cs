using System.Collections.Concurrent;
using System.Diagnostics;

namespace Kiln.AppHost.Launching;

/// <summary>
/// Starts every child process from one long-lived thread. Children are started under
/// <c>setpriv --pdeathsig SIGKILL</c>, and Linux delivers that signal when the <em>thread</em> that
/// forked the child ends: a thread-pool thread may retire at any time, this thread lives as long as
/// the AppHost does. When the AppHost dies, however it dies, its children die with it.
/// </summary>
internal static class ProcessLauncher
{
    private static readonly BlockingCollection<Action> Work = new();

    static ProcessLauncher()
    {
        var thread = new Thread(() =>
        {
            foreach (var work in Work.GetConsumingEnumerable())
            {
                work();
            }
        })
        {
            IsBackground = true,
            Name = "kiln-process-launcher",
        };
        thread.Start();
    }

    public static Task<Process> StartAsync(ProcessStartInfo startInfo, Action<Process> beforeStart)
    {
        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        Work.Add(() =>
        {
            try
            {
                var process = new Process { StartInfo = startInfo, EnableRaisingEvents = true };
                beforeStart(process);
                process.Start();
                started.SetResult(process);
            }
            catch (Exception ex)
            {
                started.SetException(ex);
            }
        });
        return started.Task;
    }
}
