using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using StackExchange.Redis;

namespace Kiln.Tests.Redis;

/// <summary>
/// A real redis-server on a free loopback port with a random password and no persistence. It can be
/// killed and started again on the same port and password, which is how reconnects are tested.
/// </summary>
public sealed class RedisServerFixture : IAsyncLifetime, IAsyncDisposable
{
    private static readonly TimeSpan StartupDeadline = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan ExitDeadline = TimeSpan.FromSeconds(10);

    private readonly ConcurrentQueue<string> _output = new();
    private readonly string[] _arguments;
    private Process? _process;

    public RedisServerFixture()
        : this([])
    {
    }

    /// <param name="arguments">More redis-server arguments, e.g. <c>--cluster-enabled yes</c>.</param>
    private RedisServerFixture(string[] arguments)
    {
        _arguments = arguments;
        Port = FindFreePort();
        Password = RandomNumberGenerator.GetString("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 32);
    }

    public int Port { get; }

    public string Password { get; }

    public string ConnectionString => $"127.0.0.1:{Port},password={Password},ssl=false,abortConnect=false";

    public int? ProcessId => _process?.Id;

    /// <summary>A multiplexer of the test's own for this server, configured as the connection string says unless <paramref name="configure"/> changes it.</summary>
    public Task<ConnectionMultiplexer> ConnectAsync(Action<ConfigurationOptions>? configure = null)
    {
        var options = ConfigurationOptions.Parse(ConnectionString);
        configure?.Invoke(options);
        return ConnectionMultiplexer.ConnectAsync(options);
    }

    /// <summary>A server of its own, for tests that kill and restart it.</summary>
    public static async Task<RedisServerFixture> StartNewAsync(params string[] arguments)
    {
        var server = new RedisServerFixture(arguments);
        await server.StartAsync();
        return server;
    }

    public Task InitializeAsync() => StartAsync();

    public async Task StartAsync()
    {
        if (_process is not null)
        {
            throw new InvalidOperationException($"redis-server (pid {_process.Id}) is already running on port {Port}.");
        }

        _output.Clear();
        _process = await ParentBoundProcess.StartAsync(
            "/usr/bin/redis-server",
            ["--port", $"{Port}", "--bind", "127.0.0.1", "--requirepass", Password, "--save", "", "--appendonly", "no", .. _arguments],
            line =>
            {
                _output.Enqueue(line);
                while (_output.Count > 50 && _output.TryDequeue(out _))
                {
                }
            });

        try
        {
            await WaitUntilReadyAsync(_process);
        }
        catch
        {
            await KillAsync();
            throw;
        }
    }

    /// <summary>Kills this fixture's own redis-server, by its PID, and waits until it has exited.</summary>
    public async Task KillAsync()
    {
        var process = _process;
        _process = null;
        if (process is null)
        {
            return;
        }

        using (process)
        {
            if (!process.HasExited)
            {
                process.Kill();
            }

            using var deadline = new CancellationTokenSource(ExitDeadline);
            await process.WaitForExitAsync(deadline.Token);
        }
    }

    public Task DisposeAsync() => KillAsync();

    async ValueTask IAsyncDisposable.DisposeAsync() => await KillAsync();

    private async Task WaitUntilReadyAsync(Process process)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException(
                    $"redis-server exited with code {process.ExitCode} before answering PING on port {Port}:{Environment.NewLine}{string.Join(Environment.NewLine, _output)}");
            }

            if (await AnswersPingAsync())
            {
                return;
            }

            if (Stopwatch.GetElapsedTime(started) > StartupDeadline)
            {
                throw new TimeoutException(
                    $"redis-server (pid {process.Id}) did not answer PING on port {Port} within {StartupDeadline.TotalSeconds} s:{Environment.NewLine}{string.Join(Environment.NewLine, _output)}");
            }

            await Task.Delay(10);
        }
    }

    private async Task<bool> AnswersPingAsync()
    {
        try
        {
            // Fails at once instead of retrying in the background, so each check is one bounded AUTH + PING.
            await using var connection = await ConnectAsync(o =>
            {
                o.AbortOnConnectFail = true;
                o.ConnectRetry = 1;
                o.ConnectTimeout = 1000;
            });
            await connection.GetDatabase().PingAsync();
            return true;
        }
        catch (RedisException)
        {
            return false;
        }
    }

    /// <summary>A loopback port nothing listens on right now.</summary>
    public static int FindFreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
