using System.Diagnostics;

namespace Kiln.Tests;

/// <summary>Waits for a condition with a deadline; the short pause between checks is a poll interval, not a guess at timing.</summary>
internal static class Eventually
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan within, string what)
    {
        var started = Stopwatch.GetTimestamp();
        Exception? lastError = null;
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (Exception ex)
            {
                lastError = ex;
            }

            if (Stopwatch.GetElapsedTime(started) > within)
            {
                throw new TimeoutException($"Waited {within.TotalSeconds:0.#} s for {what}; last error: {lastError?.Message ?? "none"}", lastError);
            }

            await Task.Delay(PollInterval);
        }
    }

    public static Task TrueAsync(Func<bool> condition, TimeSpan within, string what) =>
        TrueAsync(() => Task.FromResult(condition()), within, what);
}
