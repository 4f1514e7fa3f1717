namespace Kiln.Shared;

/// <summary>The one place that names Kiln's resources, topics, channels, keys and tables.</summary>
public static class Topology
{
    /// <summary>Resource names, as the AppHost declares them and the services look them up.</summary>
    public static class Resources
    {
        public const string Database = "kilndb";
        public const string Cache = "cache";
        public const string Kafka = "kafka";
        public const string Api = "api";
        public const string Worker = "worker";
        public const string Web = "web";
        public const string Simulator = "simulator";
    }

    public static class Topics
    {
        public const string Readings = "kiln.readings";
        public const string ReadingsDeadLetter = "kiln.readings.dlq";
        public const string Alerts = "kiln.alerts";
    }

    public const string WorkerConsumerGroup = "worker";

    public static class Database
    {
        /// <summary>PostgreSQL NOTIFY channel: alert transitions were recorded (by the Worker, or an acknowledgement by the Api).</summary>
        public const string AlertTransitionsChannel = "kiln_alert_transitions";
    }

    public static class Cache
    {
        /// <summary>Hash per sensor: <c>ts</c> (Unix microseconds) and <c>value</c>.</summary>
        public static string LatestKey(string sensorId) => "kiln:latest:" + sensorId;

        /// <summary>Pub/sub channel carrying each newly stored latest value.</summary>
        public const string LiveChannel = "kiln:live";

        /// <summary>Pub/sub channel carrying each alert transition once it is on <c>kiln.alerts</c> (JSON, as the topic carries it).</summary>
        public const string AlertsChannel = "kiln:alerts";

        /// <summary>Pub/sub channel carrying the id of each revoked API key, so every Api replica forgets it at once.</summary>
        public const string RevokedKeysChannel = "kiln:keys:revoked";

        /// <summary>One rate-limit bucket: the theoretical arrival time of its next request (Unix microseconds, Redis's clock).</summary>
        public static string RateLimitKey(string policy, string subject) => $"kiln:ratelimit:{policy}:{subject}";
    }
}
