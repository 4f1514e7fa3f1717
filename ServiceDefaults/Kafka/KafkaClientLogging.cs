using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace Kiln.ServiceDefaults.Kafka;

/// <summary>Routes librdkafka's log lines and error events to <see cref="ILogger"/> instead of stderr.</summary>
internal static class KafkaClientLogging
{
    public static void Log(ILogger logger, LogMessage message) =>
        logger.Log(ToLogLevel(message.Level), "{KafkaClient} {Facility}: {Message}", message.Name, message.Facility, message.Message);

    public static void Error(ILogger logger, IClient client, Error error)
    {
        // librdkafka recovers from everything but fatal errors by itself (a broker going away, for one),
        // so those are warnings, not failures of the service.
        var level = error.IsFatal ? LogLevel.Critical : LogLevel.Warning;
        logger.Log(level, "{KafkaClient} error {Code}: {Reason}", client.Name, error.Code, error.Reason);
    }

    private static LogLevel ToLogLevel(SyslogLevel level) => level switch
    {
        SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical => LogLevel.Critical,
        SyslogLevel.Error => LogLevel.Error,
        SyslogLevel.Warning => LogLevel.Warning,
        SyslogLevel.Notice or SyslogLevel.Info => LogLevel.Information,
        _ => LogLevel.Debug,
    };
}
