using System.Collections.Concurrent;
using System.Diagnostics;

namespace MirpsExchange.Node.Extensions;

/// <summary>
/// Where a node's start-up goes: each phase marked with the time since the process started (and the process's CPU time
/// then), from the host's build to the first message a pull applies. Logged once, at Information level under the category
/// <see cref="Category"/>, when the first pull has applied its first message (or, with no peers, once the node listens).
/// Profiling aid: `--Logging:LogLevel:MirpsExchange.Node.StartUp=Information` (docs/performance.md).
/// </summary>
public static partial class StartUpTimeline
{
    public const string Category = "MirpsExchange.Node.StartUp";

    private static readonly ConcurrentQueue<(string Phase, double Since, double Cpu)> Marks = new();
    private static int _reported;

    /// <summary>Marks the end of <paramref name="phase"/> now.</summary>
    public static void Mark(string phase)
    {
        if (Volatile.Read(ref _reported) == 0)
        {
            using var process = Process.GetCurrentProcess();
            Marks.Enqueue((phase, (DateTime.Now - process.StartTime).TotalMilliseconds, process.TotalProcessorTime.TotalMilliseconds));
        }
    }

    /// <summary>Marks <paramref name="phase"/> and logs every mark so far, the first time only.</summary>
    public static void Report(ILoggerFactory loggers, string phase)
    {
        Mark(phase);
        if (Interlocked.Exchange(ref _reported, 1) == 0)
        {
            LogTimeline(loggers.CreateLogger(Category), string.Join("; ", Marks.Select(m => $"{m.Phase} {m.Since:0} ms (cpu {m.Cpu:0} ms)")));
        }
    }

    [LoggerMessage(EventName = "StartUpTimeline", Level = LogLevel.Information, Message = "Start-up, since the process started: {Timeline}")]
    private static partial void LogTimeline(ILogger logger, string timeline);
}
