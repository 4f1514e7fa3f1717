using System.Net.Sockets;
using System.Text;

namespace Kiln.Tests.Kafka;

/// <summary>
/// Fault injection on a running development broker through its control port: a DevKafka process's
/// <see cref="DevKafkaProcess.ControlEndpoint"/>, or the platform's <c>app.GetEndpoint("kafka", "control")</c>.
/// </summary>
internal static class DevKafkaControl
{
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Sends one command line and returns the broker's answer line: <c>ok</c> or <c>error reason</c>.</summary>
    public static async Task<string> SendAsync(Uri control, string command, CancellationToken cancellationToken = default)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(AnswerTimeout);
        using var client = new TcpClient();
        await client.ConnectAsync(control.Host, control.Port, deadline.Token);
        await using var stream = client.GetStream();
        await stream.WriteAsync(Encoding.UTF8.GetBytes(command + "\n"), deadline.Token);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return await reader.ReadLineAsync(deadline.Token)
            ?? throw new IOException($"The broker's control port closed without answering '{command}'.");
    }

    /// <summary>
    /// Makes the partition's log start at <paramref name="beforeOffset"/>, as retention would: a consumer that had
    /// not read that far finds an offset gap.
    /// </summary>
    public static async Task DeleteRecordsAsync(Uri control, string topic, int partition, long beforeOffset,
        CancellationToken cancellationToken = default)
    {
        var answer = await SendAsync(control, $"delete-records {topic} {partition} {beforeOffset}", cancellationToken);
        if (answer != "ok")
        {
            throw new InvalidOperationException($"delete-records {topic} {partition} {beforeOffset}: {answer}");
        }
    }
}
