namespace Kiln.Dashboard.Persistence;

/// <summary>
/// Starts the run file's writer with the host and, when the host stops (after the listeners stopped taking exports),
/// writes out what is queued. Nothing to do when the dashboard keeps memory only.
/// </summary>
internal sealed class RunWriterService(RunWriter? writer) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => writer?.StartAsync(cancellationToken) ?? Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => writer?.StopAsync(cancellationToken) ?? Task.CompletedTask;
}
