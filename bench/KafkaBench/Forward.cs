using Kiln.AppHost.Launching;

namespace Kiln.KafkaBench;

/// <summary>
/// The AppHost's TcpForwarder alone, in a process of its own as in the AppHost, so the other modes can measure
/// a broker through it: start DevKafka with <c>--advertise 127.0.0.1:PORT</c>, then this with its listener's port.
/// </summary>
internal static class Forward
{
    public static async Task RunAsync(int port, int targetPort)
    {
        using var forwarder = TcpForwarder.Start(port);
        forwarder.ForwardTo(targetPort);
        Console.WriteLine($"forwarding 127.0.0.1:{forwarder.Port} to 127.0.0.1:{targetPort}; Ctrl+C or SIGTERM stops");
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();
        var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
        }

        Console.WriteLine($"forwarder CPU {(System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds:0.00} s");
    }
}
