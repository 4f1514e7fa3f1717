using System.Runtime.InteropServices;
using Kiln.DevKafka;

// A development Kafka broker: librdkafka's mock cluster in a process of its own. It runs until
// SIGTERM or SIGINT (stdin may be /dev/null, so it is not a lifetime signal) and never forks, so a
// parent-death signal set by the launcher reaches it.
BrokerOptions options;
try
{
    options = BrokerOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"devkafka: {e.Message}");
    Console.Error.WriteLine(BrokerOptions.Usage);
    return 2;
}

using var stopRequested = new ManualResetEventSlim();
void RequestStop(PosixSignalContext context)
{
    context.Cancel = true; // we exit ourselves, after tearing the cluster down
    stopRequested.Set();
}

using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, RequestStop);
using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, RequestStop);

try
{
    DevBroker.Run(options, stopRequested.WaitHandle);
    Console.Out.WriteLine("dev broker stopped");
    return 0;
}
catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"devkafka: {e.Message}");
    return 1;
}
