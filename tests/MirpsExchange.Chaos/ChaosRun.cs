using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Chaos;

/// <summary>
/// One run: the federation started, the schedule of <paramref name="seed"/> applied while the workload writes and
/// reads, every fault undone, then the federation must converge without a hand and the final invariants hold.
/// It prints the seed, the schedule and every violation (with the time into the chaos it was seen).
/// </summary>
public sealed class ChaosRun(long seed, TimeSpan length, TextWriter output)
{
    /// <summary>
    /// How long the healed federation has to converge: a failing pull's longest backoff (30 s, +50% jitter), a pull's stall
    /// timeout (10 s here), a restart, and a margin for a loaded machine.
    /// </summary>
    public static readonly TimeSpan ConvergeWithin = TimeSpan.FromSeconds(90);

    private readonly ConcurrentQueue<string> _violations = new();
    private readonly Stopwatch _clock = new();

    public IReadOnlyCollection<string> Violations => _violations;

    private void Violation(string text)
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"VIOLATION at {_clock.Elapsed.TotalSeconds:0.0}s (seed {seed}): {text}");
        _violations.Enqueue(line);
        if (_violations.Count <= 100)
        {
            lock (output)
            {
                output.WriteLine(_violations.Count == 100 ? line + " (further violations are counted, not printed)" : line);
            }
        }
    }

    private void Say(string text)
    {
        lock (output)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{_clock.Elapsed.TotalSeconds,6:0.0}s] {text}"));
        }
    }

    public async Task<IReadOnlyCollection<string>> RunAsync(CancellationToken cancellationToken = default)
    {
        var faults = Schedule.Create(seed, length, [.. Federation.Nodes], Federation.LinkNames);
        lock (output)
        {
            output.Write(Schedule.Describe(seed, faults));
            output.WriteLine($"replay: dotnet run --project tests/MirpsExchange.Chaos -- --seed {seed} --seconds {length.TotalSeconds:0}");
        }
        var folder = Path.Combine(Path.GetTempPath(), "mirps-chaos", $"seed-{seed}-{Guid.NewGuid():N}");
        OwnerOnlyFile.CreateDirectory(folder);
        _clock.Start();
        Say($"starting the federation in {folder}");
        await using (var federation = await Federation.StartAsync(folder, Violation, cancellationToken))
        {
            using var invariants = new Invariants(federation, Violation);
            var workload = new Workload(federation, invariants, seed, Violation);
            using var stopWriting = new CancellationTokenSource();
            using var stopReading = new CancellationTokenSource();
            var writers = workload.RunWritersAsync(stopWriting.Token);
            var readers = workload.RunReadersAsync(stopReading.Token);
            Say("federation up; chaos begins");
            _clock.Restart();

            await ApplyAsync(federation, faults, cancellationToken);
            Say($"chaos over: every fault undone; {workload.Writes} writes, {workload.Reads} reads, {workload.FailedCalls} calls failed under faults; writers stop");
            await stopWriting.CancelAsync();
            await writers;
            await stopReading.CancelAsync();
            await readers;

            if (await ConvergeAsync(federation, invariants, cancellationToken))
            {
                try
                {
                    await FinalChecksAsync(invariants, workload, cancellationToken);
                }
                catch (Exception e) when (e is Grpc.Core.RpcException or HttpRequestException or Mirps.Auth.TokenRequestException)
                {
                    // A node that answered while converging and then refuses or fails a check has not recovered on its own.
                    Violation($"a final check failed after convergence: {e}");
                }
            }
            Say($"{invariants.ChecksPassed} checks passed; starts per process: {string.Join(", ", federation.Starts.Select(s => $"{s.Key} {s.Value}"))}");
        }
        if (_violations.IsEmpty)
        {
            TempFolder(folder);
        }
        else
        {
            Say($"{_violations.Count} violation(s); the processes' logs are kept in {folder}");
        }
        return _violations;
    }

    /// <summary>Starts and ends every fault at its time; faults on one process or link run one after another.</summary>
    private async Task ApplyAsync(Federation federation, IReadOnlyList<Fault> faults, CancellationToken cancellationToken)
    {
        var steps = faults.SelectMany(f => new[] { (At: f.At, Fault: f, Start: true), (At: f.End, Fault: f, Start: false) }).OrderBy(s => s.At).ToList();
        var chains = new Dictionary<string, Task>(StringComparer.Ordinal);
        foreach (var step in steps)
        {
            var wait = step.At - _clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }
            var target = step.Fault.Kind == FaultKind.IdentityDown ? Federation.Identity : step.Fault.Target;
            var previous = chains.GetValueOrDefault(target, Task.CompletedTask);
            chains[target] = Task.Run(async () =>
            {
                await previous;
                try
                {
                    Say($"{(step.Start ? "start" : "end  ")} {step.Fault}");
                    await ApplyAsync(federation, step.Fault, step.Start, cancellationToken);
                }
                catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException)
                {
                    Violation($"{(step.Start ? "applying" : "undoing")} {step.Fault.Kind} on {step.Fault.Target} failed: {e.Message}");
                }
            }, cancellationToken);
        }
        await Task.WhenAll(chains.Values);
        foreach (var proxy in federation.Links.Values)
        {
            proxy.Set(null);
        }
    }

    private static async Task ApplyAsync(Federation federation, Fault fault, bool start, CancellationToken cancellationToken)
    {
        switch (fault.Kind)
        {
            case FaultKind.Kill:
            case FaultKind.IdentityDown:
                var name = fault.Kind == FaultKind.IdentityDown ? Federation.Identity : fault.Target;
                if (start)
                {
                    federation.Kill(name);
                }
                else
                {
                    await federation.RestartAsync(name, cancellationToken);
                }
                break;
            case FaultKind.Pause:
                if (start)
                {
                    federation.Pause(fault.Target);
                }
                else
                {
                    federation.Continue(fault.Target);
                }
                break;
            case FaultKind.DiskFull:
                if (start)
                {
                    // Full now: 1 page, below any store's size, means the store may not grow at all.
                    await federation.RestartWithAsync(fault.Target, ["--Node:StoreMaxPageCount=1"], cancellationToken);
                }
                else
                {
                    await federation.RestartWithAsync(fault.Target, [], cancellationToken);
                }
                break;
            case FaultKind.ClockSkew:
                await federation.RestartWithAsync(fault.Target,
                    start ? [$"--Node:ClockOffset={TimeSpan.FromSeconds(fault.Amount).ToString("c", CultureInfo.InvariantCulture)}"] : [], cancellationToken);
                break;
            default:
                federation.Links[fault.Target].Set(start ? fault.Kind : null, fault.Amount);
                break;
        }
    }

    /// <summary>Waits until every node holds every origin's whole log (as the origin serves it now), naming who did not (false).</summary>
    private async Task<bool> ConvergeAsync(Federation federation, Invariants invariants, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + ConvergeWithin;
        var behind = new List<string>();
        while (true)
        {
            behind.Clear();
            foreach (var origin in Federation.States)
            {
                try
                {
                    await invariants.RefreshReferenceAsync(origin, cancellationToken);
                }
                catch (Exception e) when (e is Grpc.Core.RpcException or HttpRequestException or Mirps.Auth.TokenRequestException)
                {
                    behind.Add($"{origin}'s own node does not serve its log ({e.Message})");
                    continue;
                }
                var total = invariants.ReferenceCount(origin);
                foreach (var node in Invariants.ReplicasOf(origin))
                {
                    long held;
                    var placeholders = 0;
                    try
                    {
                        held = await invariants.HeldAsync(node, origin, cancellationToken);
                        if (held == total && node == Federation.Secretariat)
                        {
                            placeholders = await invariants.PlaceholdersAsync(node, origin, cancellationToken);
                        }
                    }
                    catch (Exception e) when (e is Grpc.Core.RpcException or HttpRequestException or Mirps.Auth.TokenRequestException)
                    {
                        behind.Add($"{node} does not answer ({e.Message})");
                        continue;
                    }
                    if (held != total)
                    {
                        behind.Add($"{node} holds {held} of {origin}'s {total} changes");
                    }
                    else if (placeholders > 0)
                    {
                        // A relay's placeholders are replaced once the origin's own node is asked again (after a failing pull's backoff, at most 45 s).
                        behind.Add($"{node} holds {placeholders} of {origin}'s {total} changes only as a relay's placeholders");
                    }
                }
            }
            if (behind.Count == 0)
            {
                Say($"converged: {string.Join(", ", Federation.States.Select(o => $"{o} {invariants.ReferenceCount(o)} changes"))} at every node");
                return true;
            }
            if (DateTime.UtcNow > deadline)
            {
                foreach (var line in behind.Distinct())
                {
                    var node = line.Split(' ')[0];
                    Violation($"not converged {ConvergeWithin.TotalSeconds:0} s after the faults ended: {line}" +
                        (Federation.Nodes.Contains(node) ? $" (its pulls: {await invariants.PeersAsync(node, cancellationToken)})" : ""));
                }
                return false;
            }
            await Task.Delay(500, cancellationToken);
        }
    }

    private async Task FinalChecksAsync(Invariants invariants, Workload workload, CancellationToken cancellationToken)
    {
        foreach (var origin in Federation.States)
        {
            // The origin's whole log once more: nothing it served before is changed or gone.
            await invariants.RefreshReferenceAsync(origin, cancellationToken, whole: true);
            foreach (var node in Invariants.ReplicasOf(origin))
            {
                try
                {
                    await invariants.CheckReplicaAsync(node, origin, cancellationToken, whole: true);
                }
                catch (Exception e) when (e is Grpc.Core.RpcException or HttpRequestException or Mirps.Auth.TokenRequestException)
                {
                    // It answered while converging: failing now is not recovering on its own.
                    Violation($"{node} failed the final check of {origin}'s log after convergence: {e.Message} (its pulls: {await invariants.PeersAsync(node, cancellationToken)})");
                }
            }
        }
        // No acknowledged write lost: each key's last acknowledged value is its value in the origin's log.
        var lost = 0;
        foreach (var ((origin, indicator, period), value) in workload.Acknowledged)
        {
            if (workload.Unknown.ContainsKey((origin, indicator, period)))
            {
                continue;
            }
            var stored = invariants.ValueAt(origin, indicator, period, long.MaxValue);
            if (stored != value && lost++ < 10)
            {
                Violation($"acknowledged write lost: {origin}'s {indicator} {period} was acknowledged as {value?.ToString(CultureInfo.InvariantCulture) ?? "deleted"}, its log says {stored?.ToString(CultureInfo.InvariantCulture) ?? "absent"}");
            }
        }
        // Every regional figure the workload touched, at the converged heads.
        foreach (var indicator in Workload.Indicators)
        {
            foreach (var period in Workload.Periods)
            {
                await invariants.CheckRegionalAsync(indicator, period, cancellationToken, final: true);
            }
        }
        Say($"final checks done: {workload.Acknowledged.Count} acknowledged keys ({workload.Unknown.Count} left unknown), {Workload.Indicators.Length * Workload.Periods.Length} regional figures");
    }

    private static void TempFolder(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // a file still held by a dying process; the OS temp cleaner takes it
        }
    }
}
