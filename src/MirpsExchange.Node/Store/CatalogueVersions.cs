using Microsoft.EntityFrameworkCore;

namespace MirpsExchange.Node.Store;

/// <summary>
/// The catalogue versions this store knows, kept in the store (<see cref="CatalogueVersionRow"/>) so that a restart
/// keeps them: the version the store itself was run on (a node refuses to start on an earlier one than it last ran:
/// its rows may hold what the earlier version cannot express), and the version each origin's own node runs, as this
/// node last saw it (its GetSyncStatus) when pulling that origin's log from that node. While States upgrade on
/// different days, the Secretariat says which version each State reported in, as of any time. An origin pulled only
/// through relays is not recorded (a relay's version is its own).
/// </summary>
public sealed class CatalogueVersions(IServiceScopeFactory scopes, TimeProvider clock)
{
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _writes = new(1, 1);
    private Dictionary<string, List<(long Time, string Version)>> _history = new(StringComparer.Ordinal);

    /// <summary>
    /// At start, after the migrations: refuses a catalogue <paramref name="running"/> earlier than the one the store
    /// was last run on, loads the record, and when <paramref name="running"/> is new to the store (last run on another
    /// catalogue, or on none recorded: only then may it hold rows the running catalogue reads differently) runs
    /// <paramref name="upgrade"/> (<see cref="StoredDimensions"/>) before recording it, so a start that stops in between
    /// runs it again.
    /// </summary>
    public async Task StartAsync(string running, Func<Task>? upgrade = null, CancellationToken cancellationToken = default)
    {
        await using var scope = scopes.CreateAsyncScope();
        var store = scope.ServiceProvider.GetRequiredService<NodeDbContext>();
        var rows = await store.CatalogueVersions.AsNoTracking().OrderBy(v => v.SeenTime).ToListAsync(cancellationToken);
        var own = rows.LastOrDefault(v => v.Holder.Length == 0)?.Version;
        if (own is not null && Compare(own, running) > 0)
        {
            throw new InvalidOperationException(
                $"This store was last run on catalogue {own}; a node on catalogue {running} (Node:CatalogueVersion) cannot hold what it may " +
                $"contain. Run it on catalogue {own} or later, or restore a backup of the store made before the upgrade.");
        }
        lock (_lock)
        {
            _history = rows.GroupBy(v => v.Holder, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Select(v => (v.SeenTime, v.Version)).ToList(), StringComparer.Ordinal);
        }
        if (own != running && upgrade is not null)
        {
            await upgrade();
        }
        await RecordAsync("", running, cancellationToken);
    }

    /// <summary>Records <paramref name="origin"/>'s own node's catalogue version, as this node sees it now (a row only when it changed).</summary>
    public Task SeenAsync(string origin, string version, CancellationToken cancellationToken) =>
        RecordAsync(origin, version, cancellationToken);

    /// <summary>The version <paramref name="origin"/>'s node was last seen on at <paramref name="asOf"/> (unset: now); empty when not seen by then.</summary>
    public string VersionOf(string origin, Google.Protobuf.WellKnownTypes.Timestamp? asOf = null)
    {
        var time = asOf is null ? long.MaxValue : StoreTime.ToMicros(asOf.ToDateTimeOffset());
        lock (_lock)
        {
            return _history.TryGetValue(origin, out var seen) ? seen.LastOrDefault(v => v.Time <= time).Version ?? "" : "";
        }
    }

    private async Task RecordAsync(string holder, string version, CancellationToken cancellationToken)
    {
        if (Latest(holder) == version)
        {
            return;
        }
        await _writes.WaitAsync(cancellationToken);
        try
        {
            if (Latest(holder) == version)
            {
                return;
            }
            var time = Math.Max(StoreTime.ToMicros(clock.GetUtcNow()), LatestTime(holder) + 1);
            await using var scope = scopes.CreateAsyncScope();
            var store = scope.ServiceProvider.GetRequiredService<NodeDbContext>();
            store.CatalogueVersions.Add(new CatalogueVersionRow { Holder = holder, SeenTime = time, Version = version });
            await store.SaveChangesAsync(cancellationToken);
            lock (_lock)
            {
                if (!_history.TryGetValue(holder, out var seen))
                {
                    _history[holder] = seen = [];
                }
                seen.Add((time, version));
            }
        }
        finally
        {
            _writes.Release();
        }
    }

    private string? Latest(string holder)
    {
        lock (_lock)
        {
            return _history.TryGetValue(holder, out var seen) && seen.Count > 0 ? seen[^1].Version : null;
        }
    }

    private long LatestTime(string holder)
    {
        lock (_lock)
        {
            return _history.TryGetValue(holder, out var seen) && seen.Count > 0 ? seen[^1].Time : long.MinValue + 1;
        }
    }

    /// <summary>Orders catalogue versions (major.minor.patch) by number, not as text.</summary>
    public static int Compare(string a, string b) =>
        Version.TryParse(a, out var x) && Version.TryParse(b, out var y) ? x.CompareTo(y) : string.CompareOrdinal(a, b);
}
