using System.Globalization;

namespace Kiln.DevKafka;

internal sealed record TopicSpec(string Name, int Partitions)
{
    public override string ToString() => $"{Name}({Partitions})";
}

/// <summary>
/// Command line: <c>[--brokers N] [--topic name:partitions]... [--port-file PATH] [--advertise host:port] [--control-port N]
/// [--leader-epoch N]</c>.
/// <c>--advertise</c> is the address clients are told to use instead of the broker's own ephemeral port
/// (a forwarder's, which stays the same when the broker is restarted behind it). <c>--control-port</c> opens
/// the fault-injection port (<see cref="ControlListener"/>) on 127.0.0.1:N, or on a free port for 0.
/// <c>--leader-epoch</c> starts the declared topics' partitions at that leader epoch: a broker restarted behind the
/// same address is given a higher one than the broker before it, so that clients still holding offsets of the lost
/// log see a new leader's log and do not apply those offsets to it (one broker only).
/// </summary>
internal sealed record BrokerOptions(int Brokers, IReadOnlyList<TopicSpec> Topics, string? PortFile)
{
    public const string Usage =
        "usage: Kiln.DevKafka [--brokers N] [--topic name:partitions]... [--port-file PATH] [--advertise host:port] [--control-port N] [--leader-epoch N]";

    public (string Host, int Port)? Advertise { get; init; }

    public int? ControlPort { get; init; }

    public int LeaderEpoch { get; init; }

    public static BrokerOptions Parse(IReadOnlyList<string> args)
    {
        var brokers = 1;
        var topics = new List<TopicSpec>();
        string? portFile = null;
        (string, int)? advertise = null;
        int? controlPort = null;
        var leaderEpoch = 0;

        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "--brokers":
                    brokers = ParsePositive(ValueAfter(args, ref i), "--brokers");
                    break;
                case "--topic":
                    topics.Add(ParseTopic(ValueAfter(args, ref i)));
                    break;
                case "--port-file":
                    portFile = ValueAfter(args, ref i);
                    break;
                case "--advertise":
                    advertise = ParseAddress(ValueAfter(args, ref i), "--advertise");
                    break;
                case "--control-port":
                    var port = ValueAfter(args, ref i);
                    controlPort = port == "0" ? 0 : ParsePositive(port, "--control-port");
                    break;
                case "--leader-epoch":
                    var epoch = ValueAfter(args, ref i);
                    leaderEpoch = epoch == "0" ? 0 : ParsePositive(epoch, "--leader-epoch");
                    break;
                default:
                    throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }

        if (advertise is not null && brokers != 1)
        {
            throw new ArgumentException("--advertise names one address, so it needs --brokers 1");
        }

        if (leaderEpoch > 0 && brokers != 1)
        {
            throw new ArgumentException("--leader-epoch keeps the one broker the leader, so it needs --brokers 1");
        }

        return new BrokerOptions(brokers, topics, portFile) { Advertise = advertise, ControlPort = controlPort, LeaderEpoch = leaderEpoch };
    }

    private static string ValueAfter(IReadOnlyList<string> args, ref int i) =>
        ++i < args.Count ? args[i] : throw new ArgumentException($"{args[i - 1]} needs a value");

    private static TopicSpec ParseTopic(string value)
    {
        var colon = value.LastIndexOf(':');
        if (colon <= 0)
        {
            throw new ArgumentException($"--topic '{value}' must be name:partitions");
        }

        return new TopicSpec(value[..colon], ParsePositive(value[(colon + 1)..], $"--topic {value}"));
    }

    private static (string Host, int Port) ParseAddress(string value, string option)
    {
        var colon = value.LastIndexOf(':');
        return colon > 0
            ? (value[..colon], ParsePositive(value[(colon + 1)..], $"{option} {value}"))
            : throw new ArgumentException($"{option} '{value}' must be host:port");
    }

    private static int ParsePositive(string value, string what) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number > 0
            ? number
            : throw new ArgumentException($"{what}: '{value}' is not a positive number");
}
