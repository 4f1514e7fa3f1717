using System.Net;

namespace Kiln.Web.SignIn;

/// <summary>
/// Slows password guessing without letting anyone lock the operator out: a wrong password is answered only after
/// <see cref="FailureDelay"/>, and attempts from one client address go one at a time, so one address guesses at most
/// once per delay however many requests it sends in parallel. Addresses share a fixed set of gates (memory stays
/// bounded); a caller waits at most <see cref="MaxWait"/> for its gate and is then told to come back, never blocked
/// for longer. Other addresses are not slowed at all.
/// </summary>
internal sealed class LoginThrottle(TimeProvider time)
{
    public static readonly TimeSpan FailureDelay = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(10);

    internal const int Gates = 256;

    private readonly SemaphoreSlim[] _gates = [.. Enumerable.Range(0, Gates).Select(_ => new SemaphoreSlim(1, 1))];

    /// <returns>The address's gate, to dispose after the attempt; null when it stayed busy for <see cref="MaxWait"/>.</returns>
    public async Task<IDisposable?> EnterAsync(IPAddress? address, CancellationToken cancellationToken)
    {
        var gate = _gates[(uint)(address?.GetHashCode() ?? 0) % (uint)_gates.Length];
        return await gate.WaitAsync(MaxWait, cancellationToken) ? new Lease(gate) : null;
    }

    public Task FailedAsync(CancellationToken cancellationToken) => Task.Delay(FailureDelay, time, cancellationToken);

    private sealed class Lease(SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Release();
            }
        }
    }
}
