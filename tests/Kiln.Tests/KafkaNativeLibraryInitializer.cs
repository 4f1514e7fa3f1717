using System.Runtime.CompilerServices;
using Kiln.ServiceDefaults.Kafka;

namespace Kiln.Tests;

internal static class KafkaNativeLibraryInitializer
{
    /// <summary>
    /// Every Kafka client a test builds runs on the redist's librdkafka, as the services do: without this, a client
    /// built before any service code ran would load whatever librdkafka the machine has (Debian's 2.0.2 here) or none.
    /// </summary>
    [ModuleInitializer]
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Usage", "CA2255", Justification = "The test assembly's own process-wide setup.")]
    internal static void Load() => KafkaNativeLibrary.Load();
}
