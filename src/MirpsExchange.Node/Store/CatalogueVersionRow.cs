namespace MirpsExchange.Node.Store;

/// <summary>
/// One catalogue version in the store's record (table catalogue_versions): the version this store was run on from
/// <see cref="SeenTime"/> (<see cref="Holder"/> empty), or the version an origin's own node said it runs, as this node
/// saw it from that time (<see cref="Holder"/> the origin's ISO3). A row is added only when the version changes.
/// </summary>
public sealed class CatalogueVersionRow
{
    /// <summary>Empty: this store itself; otherwise the origin (ISO3) whose node reported the version.</summary>
    public string Holder { get; set; } = "";

    /// <summary>When the version was first run or seen (microseconds since the Unix epoch, UTC).</summary>
    public long SeenTime { get; set; }

    public string Version { get; set; } = "";
}
