using System.Runtime.InteropServices;

namespace Kiln.AppHost.Launching;

/// <summary>POSIX signals to a process or to its whole process group (each child leads its own).</summary>
internal static partial class Signals
{
    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigTerm = 15;
    public const int SigCont = 18;
    public const int SigStop = 19;

    /// <summary>Sends <paramref name="signal"/> to the process group led by <paramref name="pid"/>; false if it is gone.</summary>
    public static bool SendToGroup(int pid, int signal) => Kill(-pid, signal) == 0 || Kill(pid, signal) == 0;

    public static bool Send(int pid, int signal) => Kill(pid, signal) == 0;

    /// <summary>
    /// SIGKILLs what is left of the process group an exited leader led. Only the group: a dead leader's
    /// PID may already belong to someone else, but the kernel reuses no PID while a group still bears it.
    /// </summary>
    public static void EndGroup(int pid) => Kill(-pid, SigKill);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEffectiveUserId();
}
