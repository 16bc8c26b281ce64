using Mirps.Log;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.ChangeLog;

/// <summary>
/// Links an origin's new changes onto its hash chain, in sequence order (see Mirps.Log.ChangeHash): the
/// origin's writer computes each change's link before it writes it and advances once it is written.
/// </summary>
public sealed class ChainLinker(string origin, byte[] previous)
{
    private readonly byte[] _previous = previous.Length == 0 ? new byte[ChangeHash.Size] : (byte[])previous.Clone();
    private bool _empty = previous.Length == 0;
    private readonly Dictionary<RowPolicy, byte[]> _policies = [];

    /// <summary>The last link: the hash a head signs.</summary>
    public ReadOnlySpan<byte> Previous => _empty ? [] : _previous;

    /// <summary>The link of <paramref name="row"/> as change <paramref name="sequence"/> after the last one, into <paramref name="into"/>.</summary>
    public void Link(in WriteRow row, long sequence, long recordedMicros, long revision, bool deleted, ReadOnlySpan<byte> salt, Span<byte> into)
    {
        Span<byte> content = stackalloc byte[ChangeHash.Size];
        Content(row, revision, deleted, salt, content);
        Link(row, sequence, recordedMicros, content, into);
    }

    /// <summary>
    /// The content digest of <paramref name="row"/> as its key's revision <paramref name="revision"/> (its value digest inside):
    /// it needs neither the chain nor the commit, so a writer computes a key's first revision's before the write gate.
    /// </summary>
    public static void Content(in WriteRow row, long revision, bool deleted, ReadOnlySpan<byte> salt, Span<byte> into)
    {
        Span<byte> value = stackalloc byte[ChangeHash.Size];
        ChangeHash.ValueDigest(salt, row.Value ?? 0, row.Status, row.Note, row.Attributes, value);
        ChangeHash.ContentDigest(row.IndicatorCode, row.Country, row.Period, row.Sex, row.Age, row.CountryOfOrigin, row.Added, revision, deleted, value, into);
    }

    /// <summary>The link of the change of <paramref name="row"/> whose content digest is <paramref name="content"/>, as change <paramref name="sequence"/> after the last one.</summary>
    public void Link(in WriteRow row, long sequence, long recordedMicros, ReadOnlySpan<byte> content, Span<byte> into) =>
        ChangeHash.Link(Previous, origin, sequence, recordedMicros, PolicyFields(row.Policy), content, (int)row.Policy.Drafts, into);

    /// <summary>The change whose link is <paramref name="hash"/> was written: the next links after it.</summary>
    public void Advance(ReadOnlySpan<byte> hash)
    {
        hash.CopyTo(_previous);
        _empty = false;
    }

    /// <summary>Where the chain stands, to go back to (<see cref="Restore"/>) when changes linked after it are not written after all.</summary>
    public byte[] Mark() => Previous.ToArray();

    /// <summary>The chain as it stood at <paramref name="mark"/>.</summary>
    public void Restore(byte[] mark)
    {
        mark.CopyTo(_previous, 0);
        _empty = mark.Length == 0;
    }

    /// <summary>The last policy linked and its fields: a commit's rows mostly share one (its texts compared by reference first).</summary>
    private (RowPolicy Policy, byte[] Fields)? _last;

    private byte[] PolicyFields(RowPolicy policy)
    {
        if (_last is { } last && last.Policy.Equals(policy))
        {
            return last.Fields;
        }
        if (!_policies.TryGetValue(policy, out var fields))
        {
            fields = policy.HashFields();
            _policies[policy] = fields;
        }
        _last = (policy, fields);
        return fields;
    }
}
