using System.Globalization;
using System.Text;

namespace MirpsExchange.Chaos;

/// <summary>What a fault does; each ends after its duration (the process restarted, continued or set right, the link healed).</summary>
public enum FaultKind
{
    /// <summary>kill -9, then (after the duration) a restart on the same store.</summary>
    Kill,
    /// <summary>SIGSTOP, then SIGCONT.</summary>
    Pause,
    /// <summary>The identity server killed and kept down, then restarted on the same store, keys and ports.</summary>
    IdentityDown,
    /// <summary>A node restarted with its store capped at its size now (Node:StoreMaxPageCount): every write fails as on a full disk.</summary>
    DiskFull,
    /// <summary>A node restarted with its clock shifted by <see cref="Fault.Amount"/> seconds (Node:ClockOffset).</summary>
    ClockSkew,
    /// <summary>The link's new connections are reset at once, and every open one is cut (a peer that refuses, a middlebox dropping state).</summary>
    LinkRefuse,
    /// <summary>Every open connection of the link is reset (TCP RST), and new ones are reset after a few bytes.</summary>
    LinkReset,
    /// <summary>Every chunk in either direction waits <see cref="Fault.Amount"/> milliseconds.</summary>
    LinkDelay,
    /// <summary>Nothing moves either way; connections stay open (packets dropped on the floor).</summary>
    LinkStall,
    /// <summary>The puller's requests reach the node, its answers never come back; connections stay open.</summary>
    LinkHalfOpen,
    /// <summary>Each chunk has a one in <see cref="Fault.Amount"/> chance to cut its connection abruptly.</summary>
    LinkDrop,
}

/// <summary>One fault: at <see cref="At"/> after the chaos starts, on a process or on the link from a puller to the node it pulls from.</summary>
public sealed record Fault(TimeSpan At, FaultKind Kind, string Target, TimeSpan Duration, int Amount)
{
    public TimeSpan End => At + Duration;

    public bool OnLink => Kind >= FaultKind.LinkRefuse;

    public override string ToString()
    {
        var what = Kind switch
        {
            FaultKind.ClockSkew => $"{Kind} {Target} {Amount:+0;-0} s",
            FaultKind.LinkDelay => $"{Kind} {Target} {Amount} ms",
            FaultKind.LinkDrop => $"{Kind} {Target} 1/{Amount}",
            _ => $"{Kind} {Target}",
        };
        return string.Create(CultureInfo.InvariantCulture, $"{At.TotalSeconds,6:0.0}s  {what} for {Duration.TotalSeconds:0.0}s");
    }
}

/// <summary>
/// The faults of one run: a pure function of the seed, the length of the chaos and the federation's shape (its
/// processes and links), so a failing seed replays the same schedule. It uses its own generator (SplitMix64), not
/// System.Random, whose sequence for a seed is not promised across .NET versions.
/// </summary>
public static class Schedule
{
    public static IReadOnlyList<Fault> Create(long seed, TimeSpan length, IReadOnlyList<string> nodes, IReadOnlyList<string> links)
    {
        var random = new SplitMix64(seed);
        var faults = new List<Fault>();
        // Per process or link, when its current fault ends: one fault at a time on each, so every one is undone as scheduled.
        var busy = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);
        var skewed = TimeSpan.Zero; // one skewed clock at a time (two opposite skews would add up past a replica's 5-minute tolerance)
        var at = TimeSpan.FromSeconds(1 + random.Next(20) / 10.0);
        // The last faults end a few seconds before the chaos does; then everything is healed and the federation must converge.
        var last = length - TimeSpan.FromSeconds(3);
        while (at < last)
        {
            var duration = TimeSpan.FromSeconds(1 + random.Next(50) / 10.0);
            if (at + duration > length)
            {
                duration = length - at;
            }
            var kind = Pick(random);
            string? target = kind switch
            {
                FaultKind.IdentityDown => Free(["identity"]),
                FaultKind.Kill or FaultKind.Pause => Free([.. nodes, "identity"]),
                FaultKind.DiskFull => Free(nodes),
                FaultKind.ClockSkew => at >= skewed ? Free(nodes) : null,
                _ => Free(links),
            };
            if (target is not null)
            {
                var amount = kind switch
                {
                    // A drifted clock, within what replicas tolerate (5 minutes) and token lifetimes absorb.
                    FaultKind.ClockSkew => (random.Next(2) == 0 ? -1 : 1) * (20 + random.Next(100)),
                    FaultKind.LinkDelay => 20 + random.Next(400),
                    FaultKind.LinkDrop => 2 + random.Next(30),
                    _ => 0,
                };
                var fault = new Fault(at, kind, target, duration, amount);
                faults.Add(fault);
                busy[target] = fault.End + TimeSpan.FromMilliseconds(200);
                if (kind == FaultKind.ClockSkew)
                {
                    skewed = fault.End;
                }
            }
            at += TimeSpan.FromSeconds(0.3 + random.Next(17) / 10.0);

            string? Free(IReadOnlyList<string> candidates)
            {
                var free = candidates.Where(c => !busy.TryGetValue(c, out var until) || until <= at).ToList();
                // The identity server is one process: "down" and "killed" are the same target.
                return free.Count == 0 ? null : free[random.Next(free.Count)];
            }
        }
        return faults;
    }

    /// <summary>Link faults are the most common (every pull crosses one), then kills and pauses, then the rest.</summary>
    private static FaultKind Pick(SplitMix64 random) => random.Next(100) switch
    {
        < 12 => FaultKind.Kill,
        < 22 => FaultKind.Pause,
        < 28 => FaultKind.IdentityDown,
        < 34 => FaultKind.DiskFull,
        < 40 => FaultKind.ClockSkew,
        < 50 => FaultKind.LinkRefuse,
        < 60 => FaultKind.LinkReset,
        < 72 => FaultKind.LinkDelay,
        < 82 => FaultKind.LinkStall,
        < 90 => FaultKind.LinkHalfOpen,
        _ => FaultKind.LinkDrop,
    };

    public static string Describe(long seed, IReadOnlyList<Fault> faults)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"chaos seed {seed}: {faults.Count} faults");
        foreach (var fault in faults)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {fault}");
        }
        return text.ToString();
    }
}

/// <summary>SplitMix64: a small generator whose sequence is fixed by its seed on every platform and runtime.</summary>
public sealed class SplitMix64(long seed)
{
    private ulong _state = unchecked((ulong)seed);

    public ulong NextUInt64()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>0 to <paramref name="bound"/> - 1.</summary>
    public int Next(int bound) => (int)(NextUInt64() % (ulong)bound);
}
