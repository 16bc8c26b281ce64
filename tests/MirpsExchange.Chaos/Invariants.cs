using System.Collections.Concurrent;
using System.Globalization;
using Grpc.Core;
using Mirps.Auth;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using Mirps.Sync.V1;

namespace MirpsExchange.Chaos;

/// <summary>
/// What must hold whatever the faults: the harness's own copy of each origin's log (read from the origin's node as the
/// Secretariat, which may read everything) is the reference. Every replica's copy is a prefix of it with no gap and no
/// duplicate, and at the end all of it; the origin never serves another change under a sequence it served before (a
/// fork); every acknowledged write is in it; every regional figure is the sum of the origins' values at the heads it
/// names; nothing withheld from a State reaches that State.
/// </summary>
public sealed class Invariants(Federation federation, Action<string> violation) : IDisposable
{
    private readonly Dictionary<string, List<StoredObservation>> _reference = Federation.States.ToDictionary(s => s, _ => new List<StoredObservation>());
    private readonly Dictionary<string, SemaphoreSlim> _referenceGates = Federation.States.ToDictionary(s => s, _ => new SemaphoreSlim(1));
    /// <summary>How far each (node, origin) copy has been checked.</summary>
    private readonly ConcurrentDictionary<(string Node, string Origin), long> _checked = new();
    private readonly ConcurrentDictionary<(string Credential, string Node), TokenClient> _tokens = new();

    public long ChecksPassed;

    /// <summary>The nodes that hold <paramref name="origin"/>'s log besides its own: the other States and the Secretariat.</summary>
    public static IEnumerable<string> ReplicasOf(string origin) => Federation.Nodes.Where(n => n != origin);

    /// <summary>A token client of <paramref name="credential"/> ("" the Secretariat's) for <paramref name="node"/>, kept for the run.</summary>
    public TokenClient Tokens(string credential, string node) =>
        _tokens.GetOrAdd((credential, node), k => federation.Tokens(k.Credential, k.Node, k.Credential.Length == 0 ? MirpsAuth.ReadScope : $"{MirpsAuth.ReadScope} {MirpsAuth.SubmitScope}"));

    public int ReferenceCount(string origin)
    {
        lock (_reference[origin])
        {
            return _reference[origin].Count;
        }
    }

    /// <summary>Reads what the origin added to its log since the last time; a change it served before that differs now is a fork.</summary>
    public async Task RefreshReferenceAsync(string origin, CancellationToken cancellationToken, bool whole = false)
    {
        await _referenceGates[origin].WaitAsync(cancellationToken);
        try
        {
            var held = ReferenceCount(origin);
            var changes = await FeedAsync(origin, origin, whole ? 0 : held, long.MaxValue, cancellationToken);
            lock (_reference[origin])
            {
                var log = _reference[origin];
                foreach (var change in changes)
                {
                    var index = (int)change.OriginSequence - 1;
                    if (index < log.Count)
                    {
                        if (!Same(log[index], change))
                        {
                            violation($"fork: {origin}'s node now serves another change {change.OriginSequence} than it served before");
                        }
                    }
                    else if (index == log.Count)
                    {
                        log.Add(change);
                    }
                    else
                    {
                        violation($"gap: {origin}'s node served change {change.OriginSequence} after {log.Count}");
                        return;
                    }
                }
                if (whole && changes.Count < log.Count)
                {
                    violation($"lost: {origin}'s node now serves {changes.Count} changes of its log, it served {log.Count} before");
                }
            }
        }
        finally
        {
            _referenceGates[origin].Release();
        }
    }

    /// <summary>
    /// Checks what <paramref name="node"/> holds of <paramref name="origin"/>'s log since the last check, as far as the
    /// reference goes: the next sequences, one each, equal to the origin's (or a placeholder where the node holds less).
    /// </summary>
    public async Task CheckReplicaAsync(string node, string origin, CancellationToken cancellationToken, bool whole = false)
    {
        var known = ReferenceCount(origin);
        var from = whole ? 0 : _checked.GetValueOrDefault((node, origin));
        if (from >= known)
        {
            return;
        }
        var changes = await FeedAsync(node, origin, from, known, cancellationToken);
        var next = from + 1;
        foreach (var change in changes)
        {
            if (change.OriginSequence != next)
            {
                violation($"{node} serves {origin}'s change {change.OriginSequence} where {next} is next: {(change.OriginSequence < next ? "a duplicate" : "a gap")}");
                return;
            }
            StoredObservation reference;
            lock (_reference[origin])
            {
                reference = _reference[origin][(int)next - 1];
            }
            var placeholder = change.Withholding != Withholding.Unspecified;
            if (change.RecordedTime != reference.RecordedTime || (!placeholder && !Same(change, reference)))
            {
                violation($"{node}'s copy of {origin}'s change {next} differs from the origin's: {Brief(change)} against {Brief(reference)}");
                return;
            }
            if (whole && placeholder && node == Federation.Secretariat)
            {
                violation($"the Secretariat still holds a placeholder ({change.Withholding}) for {origin}'s change {next} (it may hold all of it)");
            }
            next++;
        }
        if (whole && next - 1 != known)
        {
            violation($"{node} holds {next - 1} of {origin}'s {known} changes");
        }
        _checked[(node, origin)] = next - 1;
        Interlocked.Increment(ref ChecksPassed);
    }

    /// <summary>The latest sequence of <paramref name="origin"/> that <paramref name="node"/> says it holds.</summary>
    public async Task<long> HeldAsync(string node, string origin, CancellationToken cancellationToken)
    {
        using var channel = federation.Channel(node, Tokens("", node));
        var status = await new SyncService.SyncServiceClient(channel).GetSyncStatusAsync(new GetSyncStatusRequest(), deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: cancellationToken);
        return status.Origins.FirstOrDefault(o => o.Origin == origin)?.LatestSequence ?? 0;
    }

    /// <summary>How many of <paramref name="origin"/>'s changes <paramref name="node"/> holds only as placeholders (what it serves the Secretariat withheld).</summary>
    public async Task<int> PlaceholdersAsync(string node, string origin, CancellationToken cancellationToken) =>
        (await FeedAsync(node, origin, 0, long.MaxValue, cancellationToken)).Count(c => c.Withholding != Withholding.Unspecified);

    /// <summary>Why <paramref name="node"/> has not caught up, from its own status: its pulls and their last errors.</summary>
    public async Task<string> PeersAsync(string node, CancellationToken cancellationToken)
    {
        try
        {
            using var channel = federation.Channel(node, Tokens("", node));
            var status = await new SyncService.SyncServiceClient(channel).GetSyncStatusAsync(new GetSyncStatusRequest(), deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: cancellationToken);
            return string.Join("; ", status.Peers.Select(p => $"{p.Origin} from {p.Address}: {p.State} at {p.AppliedSequence} {p.LastError}".Trim()));
        }
        catch (RpcException e)
        {
            return $"no status ({e.StatusCode})";
        }
    }

    /// <summary>
    /// A regional figure at the Secretariat against the reference: the sum of each origin's value at the head the
    /// answer names (an origin with no head there contributes nothing): each figure follows from exactly the logs up to its heads,
    /// also while the Secretariat holds some changes only as a relay's placeholders. <paramref name="final"/>: once converged.
    /// </summary>
    public async Task CheckRegionalAsync(string indicator, string period, CancellationToken cancellationToken, bool final = false)
    {
        using var channel = federation.Channel(Federation.Secretariat, Tokens("", Federation.Secretariat));
        var answer = await new RegionalService.RegionalServiceClient(channel).GetRegionalValueAsync(
            new GetRegionalValueRequest { IndicatorCode = indicator, Period = period }, deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: cancellationToken);
        var heads = answer.LogHeads.ToDictionary(h => h.Origin, h => h.Sequence);
        foreach (var (origin, head) in heads)
        {
            if (Federation.States.Contains(origin) && head > ReferenceCount(origin))
            {
                await RefreshReferenceAsync(origin, cancellationToken);
                if (head > ReferenceCount(origin))
                {
                    return; // the origin is unreachable now: checked another time
                }
            }
        }
        var expected = 0.0;
        var contributing = new List<string>();
        foreach (var origin in Federation.States)
        {
            if (heads.TryGetValue(origin, out var head) && ValueAt(origin, indicator, period, head) is { } value)
            {
                expected += value;
                contributing.Add(origin);
            }
        }
        var cell = answer.Cells.FirstOrDefault(c => c.Sex is "" or "_T" && c.Age is "" or "_T" && c.CountryOfOrigin is "" or "_T");
        var actual = cell is null || cell.ContributingCountries.Count == 0 ? 0.0 : cell.Value;
        var actualContributing = cell?.ContributingCountries.Order(StringComparer.Ordinal).ToList() ?? [];
        if (actual == expected && actualContributing.SequenceEqual(contributing))
        {
            Interlocked.Increment(ref ChecksPassed);
            return;
        }
        var text = string.Create(CultureInfo.InvariantCulture,
            $"regional {indicator} {period} at the Secretariat is {actual} from [{string.Join(",", actualContributing)}]; the origins' values at its heads " +
            $"({string.Join(", ", heads.Select(h => $"{h.Key}@{h.Value}"))}) add up to {expected} from [{string.Join(",", contributing)}]");
        violation(text);
    }

    /// <summary>The origin's value of a total cell after its first <paramref name="head"/> changes; null if none or deleted.</summary>
    public double? ValueAt(string origin, string indicator, string period, long head)
    {
        lock (_reference[origin])
        {
            var log = _reference[origin];
            for (var i = (int)Math.Min(head, log.Count) - 1; i >= 0; i--)
            {
                var o = log[i].Observation;
                if (o is not null && o.IndicatorCode == indicator && o.Period == period && o.Sex is "" or "_T" && o.Age is "" or "_T" && o.CountryOfOrigin is "" or "_T")
                {
                    return log[i].Deleted ? null : o.Value;
                }
            }
            return null;
        }
    }

    /// <summary>
    /// What a State reads from a node, of other origins than its own: nothing withheld from it may come with its value
    /// (a small count, PAN's Secretariat-only indicator), and a withheld change carries no value.
    /// </summary>
    public void CheckServedToState(string reader, string node, StoredObservation served)
    {
        if (served.Origin == reader)
        {
            return;
        }
        var o = served.Observation;
        if (served.Withholding != Withholding.Unspecified)
        {
            if (o is not null && o.Value != 0)
            {
                violation($"{node} served {reader} {served.Origin}'s change {served.OriginSequence} withheld ({served.Withholding}) with its value {o.Value}");
            }
            return;
        }
        if (o is null)
        {
            return;
        }
        if (served.Origin == Federation.SecretOrigin && o.IndicatorCode == Federation.SecretIndicator)
        {
            violation($"{node} served {reader} {served.Origin}'s {o.IndicatorCode} {o.Period} = {o.Value}, which {served.Origin} shares with the Secretariat only");
        }
        else if (o.Value is >= 1 and < Federation.SmallCountThreshold)
        {
            violation($"{node} served {reader} {served.Origin}'s small count {o.IndicatorCode} {o.Period} = {o.Value} (change {served.OriginSequence})");
        }
    }

    /// <summary>Changes <paramref name="after"/> .. <paramref name="upTo"/> of <paramref name="origin"/>'s log as <paramref name="node"/> serves them to the Secretariat.</summary>
    private async Task<List<StoredObservation>> FeedAsync(string node, string origin, long after, long upTo, CancellationToken cancellationToken)
    {
        using var channel = federation.Channel(node, Tokens("", node));
        using var call = new SyncService.SyncServiceClient(channel).StreamChanges(new StreamChangesRequest { Origin = origin, AfterSequence = after },
            deadline: DateTime.UtcNow.AddSeconds(30), cancellationToken: cancellationToken);
        var changes = new List<StoredObservation>();
        while (await call.ResponseStream.MoveNext(cancellationToken))
        {
            foreach (var change in call.ResponseStream.Current.Changes)
            {
                if (change.OriginSequence > upTo)
                {
                    return changes;
                }
                changes.Add(change);
            }
        }
        return changes;
    }

    /// <summary>The same change as its origin signed it (each node stamps its own received time).</summary>
    private static bool Same(StoredObservation a, StoredObservation b)
    {
        var x = a.Clone();
        var y = b.Clone();
        x.ReceivedTime = y.ReceivedTime = null;
        return x.Equals(y);
    }

    private static string Brief(StoredObservation c) =>
        string.Create(CultureInfo.InvariantCulture, $"[{c.OriginSequence} r{c.Revision} {c.Observation?.IndicatorCode} {c.Observation?.Period}={c.Observation?.Value} deleted={c.Deleted} {c.Withholding} at {c.RecordedTime}]");

    public void Dispose()
    {
        foreach (var tokens in _tokens.Values)
        {
            tokens.Dispose();
        }
        foreach (var gate in _referenceGates.Values)
        {
            gate.Dispose();
        }
    }
}
