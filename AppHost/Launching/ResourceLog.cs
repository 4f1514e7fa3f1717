namespace Kiln.AppHost.Launching;

/// <summary>
/// A resource's console output: echoed to the AppHost's console prefixed with the resource name, and
/// kept (the last lines, numbered from 1) for whoever asks later, or follows it as it is written
/// (<see cref="Follow"/>: the resource service's console-log watchers).
/// </summary>
internal sealed class ResourceLog(string name, ConsoleSink sink)
{
    /// <summary>How many lines are kept; older ones are forgotten, their numbers with them.</summary>
    public const int Capacity = 2000;

    private readonly Queue<LogLine> _lines = new();
    private readonly List<Action<LogLine>> _followers = [];
    private long _written;

    public string Name { get; } = name;

    public void Write(string line, bool isError = false)
    {
        lock (_lines)
        {
            if (_lines.Count == Capacity)
            {
                _lines.Dequeue();
            }

            var numbered = new LogLine(++_written, line, isError);
            _lines.Enqueue(numbered);

            // Under the lock, so each follower sees the lines in order and none twice. A follower must not block
            // (the resource service's hand the line to a bounded channel): a slow reader never holds up a process's output.
            foreach (var follower in _followers)
            {
                follower(numbered);
            }
        }

        sink.Write(Name, line, isError);
    }

    public IReadOnlyList<string> Snapshot()
    {
        lock (_lines)
        {
            return [.. _lines.Select(l => l.Text)];
        }
    }

    /// <summary>The kept lines written at error level (standard error).</summary>
    public IReadOnlyList<string> Errors()
    {
        lock (_lines)
        {
            return [.. _lines.Where(l => l.IsError).Select(l => l.Text)];
        }
    }

    /// <summary>
    /// The kept lines, and from then on every new line handed to <paramref name="follower"/> (on the writer's thread;
    /// it must not block) until the returned handle is disposed: nothing is missed or repeated between the two.
    /// </summary>
    public (IReadOnlyList<LogLine> Kept, IDisposable Subscription) Follow(Action<LogLine> follower)
    {
        lock (_lines)
        {
            _followers.Add(follower);
            return ([.. _lines], new Unfollow(this, follower));
        }
    }

    private sealed class Unfollow(ResourceLog log, Action<LogLine> follower) : IDisposable
    {
        public void Dispose()
        {
            lock (log._lines)
            {
                log._followers.Remove(follower);
            }
        }
    }
}

/// <summary>One line of a resource's output: its number in the resource's output (from 1), its text, and whether it came from standard error.</summary>
internal readonly record struct LogLine(long Number, string Text, bool IsError);

/// <summary>The AppHost's console: one writer, lines prefixed and padded so columns line up.</summary>
internal sealed class ConsoleSink(bool echo)
{
    private readonly Lock _gate = new();

    public void Write(string source, string line, bool isError = false)
    {
        if (!echo)
        {
            return;
        }

        lock (_gate)
        {
            var writer = isError ? Console.Error : Console.Out;
            writer.WriteLine(Format(source, line));
        }
    }

    /// <summary>The AppHost's console line: the source padded to a column, then the text.</summary>
    public static string Format(string source, string line) => $"{source,-12}| {line}";
}
