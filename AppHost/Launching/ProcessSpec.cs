namespace Kiln.AppHost.Launching;

/// <summary>What to run for a resource: program, arguments, environment and (when root) the user to run as.</summary>
internal sealed record ProcessSpec(string FileName, IReadOnlyList<string> Arguments)
{
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
    public string? WorkingDirectory { get; init; }

    /// <summary>Variables of the AppHost's own environment the program must not inherit.</summary>
    public IReadOnlyList<string> NotInherited { get; init; } = [];

    /// <summary>Drop to this system user before exec (PostgreSQL refuses to run as root).</summary>
    public string? RunAsUser { get; init; }

    /// <summary>The signal that asks the program to stop gracefully (PostgreSQL: SIGINT is its fast shutdown).</summary>
    public int StopSignal { get; init; } = Signals.SigTerm;
}
