using System.Net;
using System.Net.Sockets;
using Npgsql;
using StackExchange.Redis;

namespace Kiln.AppHost.Health;

/// <summary>Waits, with a deadline, for a resource to answer; fails fast when its process exits first.</summary>
internal static class HealthProbe
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan RedisAttemptTimeout = TimeSpan.FromSeconds(2);

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

    /// <summary>Polls until PostgreSQL accepts a connection with <paramref name="connectionString"/> (unpooled, with a short timeout).</summary>
    public static Task WaitForPostgresAsync(string resource, string connectionString, Task<int> exited, TimeSpan deadline, CancellationToken cancellationToken) =>
        PollAsync(resource, exited, deadline, async probe =>
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(probe);
                return null;
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException)
            {
                return ex.Message;
            }
        }, cancellationToken);

    /// <summary>Polls until a Redis-compatible server accepts the password and answers PING.</summary>
    public static Task WaitForRedisAsync(string resource, int port, string password, Task<int> exited, TimeSpan deadline, CancellationToken cancellationToken) =>
        PollAsync(resource, exited, deadline, async _ =>
        {
            // A fresh connection per attempt, failing at once (AbortOnConnectFail) rather than retrying in
            // the background. The library's calls take no token: its own timeouts bound each AUTH + PING,
            // and PollAsync checks the deadline between attempts.
            var options = new ConfigurationOptions
            {
                EndPoints = { { IPAddress.Loopback, port } },
                Password = password,
                AbortOnConnectFail = true,
                ConnectRetry = 1,
                ConnectTimeout = (int)RedisAttemptTimeout.TotalMilliseconds,
                AsyncTimeout = (int)RedisAttemptTimeout.TotalMilliseconds,
            };
            try
            {
                await using var connection = await ConnectionMultiplexer.ConnectAsync(options);
                await connection.GetDatabase().PingAsync();
                return null;
            }
            catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
            {
                // The library's messages name the endpoint and the failure, never the password.
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

                // WhenAny does not throw for the cancelled delay; without this a probe that ignores the
                // token would be polled in a tight loop past the deadline.
                timeout.Token.ThrowIfCancellationRequested();
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
