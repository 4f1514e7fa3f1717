using System.Diagnostics;

namespace Kiln.AppHost.Launching;

/// <summary>
/// One running program of a resource: started in its own session (so a Ctrl+C in the terminal reaches
/// only the AppHost, which then stops children in order), tied to the AppHost's life by a parent-death
/// signal, its output captured line by line.
/// </summary>
internal sealed class ChildProcess
{
    private readonly Process _process;
    private readonly ProcessRegistry _registry;
    private readonly ProcessSpec _spec;
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ChildProcess(Process process, ProcessSpec spec, ProcessRegistry registry)
    {
        _process = process;
        _spec = spec;
        _registry = registry;
    }

    public int Pid { get; private set; }

    /// <summary>Completes with the exit code when the program ends, for whatever reason.</summary>
    public Task<int> Exited => _exited.Task;

    public static async Task<ChildProcess> StartAsync(ProcessSpec spec, ResourceLog log, ProcessRegistry registry,
        Action<string>? onOutputLine = null)
    {
        var startInfo = new ProcessStartInfo("setpriv")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = spec.WorkingDirectory ?? Environment.CurrentDirectory,
        };
        startInfo.ArgumentList.Add("--pdeathsig");
        startInfo.ArgumentList.Add("SIGKILL");
        if (spec.RunAsUser is { } user)
        {
            startInfo.ArgumentList.Add($"--reuid={user}");
            startInfo.ArgumentList.Add($"--regid={user}");
            startInfo.ArgumentList.Add("--init-groups");
        }

        // setsid execs in place (the child is not a group leader), so the PID we hold is the program's.
        startInfo.ArgumentList.Add("--");
        startInfo.ArgumentList.Add("setsid");
        startInfo.ArgumentList.Add(spec.FileName);
        foreach (var argument in spec.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var name in spec.NotInherited)
        {
            startInfo.Environment.Remove(name);
        }

        foreach (var (name, value) in spec.Environment)
        {
            startInfo.Environment[name] = value;
        }

        ChildProcess? child = null;
        var process = await ProcessLauncher.StartAsync(startInfo, p =>
        {
            p.OutputDataReceived += (_, e) => OnLine(e.Data, isError: false);
            p.ErrorDataReceived += (_, e) => OnLine(e.Data, isError: true);
            p.Exited += (_, _) => child?.OnExited();
        });

        child = new ChildProcess(process, spec, registry) { Pid = process.Id };
        registry.Add(process.Id, log.Name);
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (process.HasExited)
        {
            child.OnExited();
        }

        return child;

        void OnLine(string? line, bool isError)
        {
            if (line is null)
            {
                return;
            }

            log.Write(line, isError);
            onOutputLine?.Invoke(line);
        }
    }

    /// <summary>Asks the program to stop with its stop signal; after <paramref name="grace"/> kills its whole group.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_exited.Task.IsCompleted)
        {
            return;
        }

        Signals.Send(Pid, _spec.StopSignal);
        if (await Task.WhenAny(_exited.Task, Task.Delay(grace)) != _exited.Task)
        {
            Signals.SendToGroup(Pid, Signals.SigKill);
            await _exited.Task.WaitAsync(TimeSpan.FromSeconds(5));
        }
    }

    private void OnExited()
    {
        if (_exited.Task.IsCompleted)
        {
            return;
        }

        // Let the output readers drain the last lines before the exit is reported.
        _process.WaitForExit();
        _registry.Remove(Pid);
        _exited.TrySetResult(_process.ExitCode);
    }
}
