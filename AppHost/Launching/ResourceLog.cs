namespace Kiln.AppHost.Launching;

/// <summary>
/// A resource's console output: echoed to the AppHost's console prefixed with the resource name, and
/// kept (the last lines) for whoever asks later.
/// </summary>
internal sealed class ResourceLog(string name, ConsoleSink sink)
{
    private const int Capacity = 2000;
    private readonly Queue<(string Text, bool IsError)> _lines = new();

    public string Name { get; } = name;

    public void Write(string line, bool isError = false)
    {
        lock (_lines)
        {
            if (_lines.Count == Capacity)
            {
                _lines.Dequeue();
            }

            _lines.Enqueue((line, isError));
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
}

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
