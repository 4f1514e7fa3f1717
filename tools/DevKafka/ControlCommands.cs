using System.Globalization;

namespace Kiln.DevKafka;

/// <summary>
/// What the control port understands. Each command answers one line: <c>ok</c>, or <c>error</c> and the reason.
/// <list type="bullet">
/// <item><c>delete-records TOPIC PARTITION BEFORE-OFFSET</c>: the partition's log then starts at BEFORE-OFFSET,
/// as if retention had removed what came before (an offset gap for a consumer that had not read it yet).</item>
/// <item><c>broker-down [BROKER]</c>, <c>broker-up [BROKER]</c>: the broker (default 1) drops its connections and refuses
/// new ones, keeping its logs, until it is brought up again: an outage that loses nothing.</item>
/// </list>
/// </summary>
internal static class ControlCommands
{
    private const string DeleteRecordsUsage = "delete-records <topic> <partition> <before-offset>";
    private const string Usage = $"{DeleteRecordsUsage} | broker-down [broker] | broker-up [broker]";

    public static string Execute(MockCluster cluster, string line)
    {
        var answer = line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) switch
        {
            ["delete-records", var topic, var partition, var beforeOffset] => DeleteRecords(cluster, topic, partition, beforeOffset),
            ["delete-records", ..] => $"error usage: {DeleteRecordsUsage}",
            [var command and ("broker-down" or "broker-up"), .. var broker] when broker.Length <= 1 => SetBroker(cluster, command == "broker-up", broker),
            [] => $"error empty line; commands: {Usage}",
            [var command, ..] => $"error unknown command '{command}'; commands: {Usage}",
        };

        // The broker's output is where a test's fault shows up, next to what the clients did about it.
        Console.Out.WriteLine($"control: {line} -> {answer}");
        return answer;
    }

    private static string SetBroker(MockCluster cluster, bool up, string[] broker)
    {
        var id = 1;
        if (broker is [var text] && (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out id) || id < 1))
        {
            return $"error broker '{text}' is not a broker id";
        }

        return cluster.SetBrokerUp(id, up) is { } problem ? $"error {problem}" : "ok";
    }

    private static string DeleteRecords(MockCluster cluster, string topic, string partitionText, string beforeOffsetText)
    {
        if (!int.TryParse(partitionText, NumberStyles.None, CultureInfo.InvariantCulture, out var partition))
        {
            return $"error partition '{partitionText}' is not a number";
        }

        if (!long.TryParse(beforeOffsetText, NumberStyles.None, CultureInfo.InvariantCulture, out var beforeOffset))
        {
            return $"error before-offset '{beforeOffsetText}' is not a number";
        }

        return cluster.DeleteRecords(topic, partition, beforeOffset) is { } problem ? $"error {problem}" : "ok";
    }
}
