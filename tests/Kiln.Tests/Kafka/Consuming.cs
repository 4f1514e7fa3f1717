using System.Diagnostics;
using Confluent.Kafka;

namespace Kiln.Tests.Kafka;

internal static class Consuming
{
    /// <summary>Hands each message to <paramref name="handle"/> until it returns true, failing at the deadline.</summary>
    public static void ConsumeUntil<TKey, TValue>(
        this IConsumer<TKey, TValue> consumer, Func<ConsumeResult<TKey, TValue>, bool> handle, TimeSpan timeout)
    {
        var elapsed = Stopwatch.StartNew();
        while (elapsed.Elapsed < timeout)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { } result && handle(result))
            {
                return;
            }
        }

        throw new TimeoutException($"Consumer {consumer.Name} did not finish within {timeout}.");
    }
}
