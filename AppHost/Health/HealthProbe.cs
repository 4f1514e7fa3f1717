using System.Net.Sockets;
using System.Text;

namespace Kiln.AppHost.Health;

/// <summary>Waits, with a deadline, for a resource to answer; fails fast when its process exits first.</summary>
internal static class HealthProbe
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Polls an HTTP health endpoint until it answers 2xx.</summary>
    public static Task WaitForHttpHealthyAsync(string resource, Uri healthUrl, Task<int> exited, TimeSpan deadline, CancellationToken cancellationToken) =>
        PollAsync(resource, exited, deadline, ct => CheckHttpAsync(healthUrl, ct), cancellationToken);

    /// <summary>One request to an HTTP health endpoint: null when it answered 2xx, else the problem.</summary>
    public static async Task<string?> CheckHttpAsync(Uri healthUrl, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Http.GetAsync(healthUrl, cancellationToken);
            return response.IsSuccessStatusCode
                ? null
                : $"{healthUrl} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}";
        }
        catch (HttpRequestException ex)
        {
            return ex.Message;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return $"{healthUrl} did not answer within {Http.Timeout.TotalSeconds:0} s";
        }
    }

    /// <summary>Polls until a TCP connection to <paramref name="port"/> succeeds.</summary>
    public static Task WaitForTcpAsync(string resource, int port, Task<int> exited, TimeSpan deadline, CancellationToken cancellationToken) =>
        PollAsync(resource, exited, deadline, async ct =>
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port, ct);
                return null;
            }
            catch (SocketException ex)
            {
                return ex.Message;
            }
        }, cancellationToken);

    /// <summary>Polls until a Redis-compatible server answers AUTH + PING with PONG.</summary>
    public static Task WaitForRespAsync(string resource, int port, string password, Task<int> exited, TimeSpan deadline, CancellationToken cancellationToken) =>
        PollAsync(resource, exited, deadline, async ct =>
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port, ct);
                var stream = client.GetStream();
                var request = $"*2\r\n$4\r\nAUTH\r\n${password.Length}\r\n{password}\r\n*1\r\n$4\r\nPING\r\n";
                await stream.WriteAsync(Encoding.ASCII.GetBytes(request), ct);
                var buffer = new byte[256];
                var received = new StringBuilder();
                while (!received.ToString().Contains("PONG", StringComparison.Ordinal) && !received.ToString().Contains('-', StringComparison.Ordinal))
                {
                    var read = await stream.ReadAsync(buffer, ct);
                    if (read == 0)
                    {
                        break;
                    }

                    received.Append(Encoding.ASCII.GetString(buffer, 0, read));
                }

                var reply = received.ToString();
                return reply.Contains("PONG", StringComparison.Ordinal) ? null : $"answered '{reply.Trim()}'";
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
                return ex.Message;
            }
        }, cancellationToken);

    /// <summary>Runs <paramref name="probe"/> (null = healthy, else the problem) until it passes, the process exits or time runs out.</summary>
    public static async Task PollAsync(string resource, Task<int> exited, TimeSpan deadline,
        Func<CancellationToken, Task<string?>> probe, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(deadline);
        string? lastProblem = "no answer yet";
        while (true)
        {
            if (exited.IsCompleted)
            {
                throw new ResourceFailedException(resource,
                    $"{resource} exited with code {exited.Result} before it became healthy (last probe: {lastProblem}); its output is above.");
            }

            try
            {
                lastProblem = await probe(timeout.Token);
                if (lastProblem is null)
                {
                    return;
                }

                await Task.WhenAny(exited, Task.Delay(PollInterval, timeout.Token));
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new ResourceFailedException(resource,
                    $"{resource} did not become healthy within {deadline.TotalSeconds:0} s (last probe: {lastProblem}).");
            }
        }
    }
}

/// <summary>A resource failed to start; the message names it and the cause.</summary>
internal sealed class ResourceFailedException(string resource, string message) : Exception(message)
{
    public string Resource { get; } = resource;
}
