using System.Diagnostics;

namespace Kiln.AppHost.Launching;

/// <summary>
/// Runs a command-line tool to its end (an installer, an image build, one engine command): each line it writes goes to
/// a callback, its standard input gets <c>standardInput</c> and is closed, and the deadline or the caller's token ends
/// it with its whole process tree.
/// </summary>
internal static class ToolProcess
{
    /// <summary>Runs <paramref name="program"/>; returns its exit code, or null when <paramref name="deadline"/> passed first.</summary>
    /// <exception cref="OperationCanceledException">The caller's token was cancelled; the tool was ended.</exception>
    public static async Task<int?> RunAsync(string program, IReadOnlyList<string> arguments, Action<string, bool> onLine,
        CancellationToken cancellationToken, TimeSpan? deadline = null, IEnumerable<KeyValuePair<string, string>>? environment = null,
        string? standardInput = null)
    {
        var startInfo = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? [])
        {
            startInfo.Environment[name] = value;
        }

        using var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => { if (e.Data is { } line) { onLine(line, false); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) { onLine(line, true); } };
        process.Start();
        if (standardInput is not null)
        {
            await process.StandardInput.WriteAsync(standardInput);
        }

        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (deadline is { } limit)
        {
            timeout.CancelAfter(limit);
        }

        try
        {
            // Returns once the tool has exited and its output has been read to the end.
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            return null;
        }

        return process.ExitCode;
    }
}
