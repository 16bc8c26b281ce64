using System.Runtime.InteropServices;

namespace MirpsExchange.Node.Extensions;

/// <summary>
/// Keeps glibc's malloc from holding on to memory the process freed (Linux). SQLite's page caches live in malloc's memory,
/// and a connection drops its whole cache whenever another connection wrote, so while a replica catches up its readers'
/// pages are allocated and freed all the time, on whichever thread-pool thread runs the query. glibc gives threads arenas of
/// their own (up to eight per core) and keeps what is freed in each of them resident: a Secretariat syncing 3 M changes
/// held 130-150 MiB of such free memory beside 15-55 MiB that SQLite actually used and about 95 MiB of GC heap, and the
/// Secretariat's memory grew with the log, to 1,007 MiB at 50 M changes (docs/performance.md, "Memory"). So: fewer arenas
/// from the start (<see cref="Limit"/>), and the free memory of every arena given back to the system every few seconds
/// (<see cref="Trimmer"/>). A MALLOC_ARENA_MAX set in the environment wins over <see cref="Limit"/>.
/// </summary>
public static partial class MallocArenas
{
    /// <summary>Arenas for threads that start after <see cref="Limit"/>: the runtime's own threads already have theirs.</summary>
    public const int Default = 2;

    /// <summary>How often <see cref="Trimmer"/> gives free memory back.</summary>
    public static readonly TimeSpan TrimInterval = TimeSpan.FromSeconds(5);

    /// <summary>mallopt's M_ARENA_MAX (glibc's malloc.h).</summary>
    private const int ArenaMax = -8;

    private static bool _glibc = OperatingSystem.IsLinux();

    /// <summary>
    /// Caps the arenas at <paramref name="arenas"/>; true when the cap was set. Called first thing in Main: arenas already made
    /// (the runtime starts a few threads before Main) stay, and threads started later share them.
    /// </summary>
    public static bool Limit(int arenas = Default)
    {
        if (Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX") is { Length: > 0 })
        {
            return false;
        }
        return Call(() => MallOpt(ArenaMax, arenas) == 1); // glibc returns 1 on success
    }

    /// <summary>Gives the free memory of every arena back to the system (malloc_trim); false where there is no glibc.</summary>
    public static bool Trim() => Call(() => MallocTrim(0) >= 0);

    private static bool Call(Func<bool> call)
    {
        if (!_glibc)
        {
            return false;
        }
        try
        {
            return call();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _glibc = false; // another C library (musl has no malloc_trim): its own allocator, nothing to do
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    /// <summary>When a <see cref="Trimmer"/> of this process last trimmed (Environment.TickCount64).</summary>
    private static long _lastTrim;

    /// <summary>
    /// Calls <see cref="Trim"/> every <see cref="TrimInterval"/> while the node runs (a few milliseconds each). The arenas are
    /// the process's: several nodes in one process (the functional tests') trim once an interval between them.
    /// </summary>
    internal sealed class Trimmer : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            using var timer = new PeriodicTimer(TrimInterval);
            try
            {
                while (await timer.WaitForNextTickAsync(stoppingToken))
                {
                    var last = Interlocked.Read(ref _lastTrim);
                    var now = Environment.TickCount64;
                    if (now - last >= (long)TrimInterval.TotalMilliseconds * 9 / 10 && Interlocked.CompareExchange(ref _lastTrim, now, last) == last && !Trim())
                    {
                        return; // no glibc
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // stopping
            }
        }
    }
}
