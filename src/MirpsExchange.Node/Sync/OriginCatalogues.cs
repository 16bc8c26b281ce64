using System.Collections.Concurrent;

namespace MirpsExchange.Node.Sync;

/// <summary>
/// The catalogue version each origin's own node runs, as this node last saw it (its GetSyncStatus) when pulling that
/// origin's log from that node: while States upgrade on different days, the Secretariat says which version each
/// State reported in. An origin pulled only through relays since start is not listed (a relay's version is its own).
/// </summary>
public sealed class OriginCatalogues
{
    private readonly ConcurrentDictionary<string, string> _versions = new(StringComparer.Ordinal);

    /// <summary>Records <paramref name="origin"/>'s node's catalogue version.</summary>
    public void Seen(string origin, string version) => _versions[origin] = version;

    /// <summary>The version last seen for <paramref name="origin"/>'s node; empty when not seen.</summary>
    public string VersionOf(string origin) => _versions.GetValueOrDefault(origin, "");
}
