using System.Security.Cryptography;
using Mirps.Log;
using Mirps.Observation.V1;
using Mirps.Sync.V1;

namespace MirpsExchange.Node.Sync;

/// <summary>The public log-signing keys the identity server publishes, by origin and key id.</summary>
public interface ILogKeys
{
    /// <summary>
    /// <paramref name="origin"/>'s key <paramref name="keyId"/>, or null when it is not (yet) published for that
    /// origin, or was retired before <paramref name="signedTime"/>.
    /// </summary>
    ECDsa? Find(string origin, string keyId, DateTimeOffset signedTime);

    /// <summary>Asks for the published keys again soon: a head named a key not known here yet.</summary>
    void RefreshSoon();

    /// <summary>Completes when the published keys are first fetched since the node started (before that, every key is unknown).</summary>
    Task FirstFetch => Task.CompletedTask;

    /// <summary>Whether the identity server publishes <paramref name="origin"/>'s key <paramref name="keyId"/> as retired before <paramref name="signedTime"/>.</summary>
    bool RetiredBefore(string origin, string keyId, DateTimeOffset signedTime) => false;
}

/// <summary>Changes of one origin whose chain a signed head verified, with each one's link, and the heads that verified them.</summary>
public sealed record VerifiedChanges(List<StoredObservation> Changes, byte[] Hashes, List<LogHead> Heads)
{
    /// <summary>The changes' content passed <see cref="ReplicaRules.CheckContent"/> already (the writer need not check it again).</summary>
    public bool ContentChecked { get; init; }

    /// <summary>
    /// The complementary-suppression method the serving node says it computed the withholdings with (StreamChangesResponse.suppression_method
    /// of the message that completed them; 0: method 3): checked against the origin's signed heads (Sharing/SuppressionMethods.ToCheck).
    /// </summary>
    public uint SuppressionMethod { get; init; }

    public static readonly VerifiedChanges None = new([], [], []);

    /// <summary>The link of change <paramref name="index"/> in the chain.</summary>
    public ReadOnlyMemory<byte> Hash(int index) => Hashes.AsMemory(index * ChangeHash.Size, ChangeHash.Size);

    /// <summary>The first <paramref name="count"/> changes, with the heads among them.</summary>
    public VerifiedChanges Take(int count)
    {
        var last = Changes[count - 1].OriginSequence;
        return new([.. Changes.Take(count)], Hashes[..(count * ChangeHash.Size)], [.. Heads.Where(h => h.Sequence <= last)]) { SuppressionMethod = SuppressionMethod };
    }

    /// <summary>The link of <paramref name="change"/>, one of <see cref="Changes"/> (their sequences follow each other).</summary>
    public ReadOnlyMemory<byte> HashOf(StoredObservation change) => Hash((int)(change.OriginSequence - Changes[0].OriginSequence));

    /// <summary><see cref="Hashes"/> came from the shared array pool (<see cref="ChainVerifier.Accept"/>), and may go back once the changes are applied.</summary>
    public bool Pooled { get; init; }

    /// <summary>
    /// Returns <see cref="Hashes"/> to the shared pool, if they came from it; nothing may read them after. A message's
    /// links (8,192 x 32 bytes) are a large object: allocated anew for every message, they drove full collections.
    /// </summary>
    public void Release()
    {
        if (Pooled)
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(Hashes);
        }
    }
}

/// <summary>
/// A replica's check of an origin's signed change log (protos/README.md, "The signed change log"), one per
/// pull, fed the peer's messages in order. Each change must be the next of the origin's log, recorded no earlier
/// than the one before (a commit's changes share their time) and not after this node's clock plus <see cref="MaxClockSkew"/>; its link is computed
/// from the one before (the content a reader does not receive counts through the digests it does). A
/// change is released to the writer only once a head of the origin's log at or after it verifies: signed
/// with a key the identity server publishes for that origin (or one a verified rotation handed over to), and not
/// with a key a verified rotation handed over from (it signs nothing after the rotation's change), over the very
/// link computed here. Anything else refuses the message with nothing released:
/// CHAIN_BROKEN, SIGNATURE_INVALID, UNKNOWN_SIGNING_KEY, BACKDATED or RECORDED_IN_FUTURE.
/// </summary>
public sealed class ChainVerifier
{
    /// <summary>How far ahead of this node's clock an origin's recorded time may be.</summary>
    public static TimeSpan MaxClockSkew => ReplicaRules.ClockSkew;

    /// <summary>Changes held waiting for their head: more than two commits of the largest submit means the head is not coming.</summary>
    public const int MaxUnsigned = 50_000;

    /// <summary>
    /// Bytes of messages held waiting for a head. A count alone does not bound memory: a relay can send one change
    /// per message with a note of megabytes. Two commits of the largest submit take a few MiB on the wire.
    /// </summary>
    public const long MaxUnsignedBytes = 64L * 1024 * 1024;

    private readonly string _origin;
    private readonly ILogKeys _keys;
    private readonly Func<long> _nowMicros;
    private readonly Dictionary<string, ECDsa> _handedOver;

    /// <summary>Keys verified rotations handed over from, by key id: the change of the rotation, after which they sign nothing.</summary>
    private readonly Dictionary<string, long> _rotatedAway;

    /// <summary>The last change released (or held before this pull): its sequence, recorded time and link.</summary>
    private long _sequence, _recordedTime;
    private readonly byte[] _hash = new byte[ChangeHash.Size];
    private bool _empty;

    /// <summary>Changes computed but not yet covered by a verified head, and their links.</summary>
    private readonly List<StoredObservation> _pending = [];
    private byte[] _pendingHashes = new byte[1024 * ChangeHash.Size];
    private long _pendingTime;
    private readonly byte[] _lastPending = new byte[ChangeHash.Size];
    private readonly Dictionary<SharingPolicy, byte[]> _policies = new(ReferenceEqualityComparer.Instance);

    /// <summary>The messages that still have changes waiting for a head: each one's last sequence and size, oldest first.</summary>
    private readonly Queue<(long Last, long Bytes)> _pendingMessages = new();
    private long _pendingBytes;

    /// <param name="after">The sequence the pull resumes after, whose link <paramref name="hash"/> (empty at 0) and recorded time this node holds.</param>
    /// <param name="handedOver">Keys verified rotations of this origin handed over to, by key id.</param>
    /// <param name="rotatedAway">Keys verified rotations of this origin handed over from (the rotation heads' key ids), each with the rotation's change.</param>
    public ChainVerifier(string origin, long after, ReadOnlySpan<byte> hash, long recordedTime, ILogKeys keys, Func<long> nowMicros,
        Dictionary<string, ECDsa>? handedOver = null, Dictionary<string, long>? rotatedAway = null)
    {
        (_origin, _keys, _nowMicros, _handedOver, _rotatedAway) = (origin, keys, nowMicros, handedOver ?? [], rotatedAway ?? []);
        (_sequence, _recordedTime, _empty) = (after, recordedTime, hash.IsEmpty);
        hash.CopyTo(_hash);
    }

    /// <summary>The first and last sequence held waiting for a head, if any.</summary>
    public (long First, long Last)? Pending => _pending.Count == 0 ? null : (_pending[0].OriginSequence, _pending[^1].OriginSequence);

    /// <summary>Checks a message; returns the changes its heads now cover (none when its heads cover nothing new).</summary>
    public VerifiedChanges Accept(StreamChangesResponse message)
    {
        RequireTimesInRange(message);
        var now = _nowMicros();
        var latest = now + (long)MaxClockSkew.TotalMicroseconds;
        Span<byte> content = stackalloc byte[ChangeHash.Size];
        foreach (var change in message.Changes)
        {
            var expected = _sequence + _pending.Count + 1;
            if (change.Origin != _origin)
            {
                throw Refused(ReplicaRules.ChainBroken, $"a change of {change.Origin} arrived in {_origin}'s log");
            }
            if (change.OriginSequence != expected)
            {
                throw Refused(ReplicaRules.ChainBroken, $"{_origin}'s change {change.OriginSequence} arrived where change {expected} is next: a gap or a reorder");
            }
            if (change.RecordedTime is null)
            {
                throw Refused(ReplicaRules.ChainBroken, $"{_origin}'s change {change.OriginSequence} has no recorded time");
            }
            var time = ChangeHash.Micros(change.RecordedTime);
            var previousTime = _pending.Count > 0 ? _pendingTime : _recordedTime;
            if (time < previousTime)
            {
                throw Refused(ReplicaRules.Backdated,
                    $"{_origin}'s change {change.OriginSequence} is recorded at {Format(time)}, before its change {expected - 1} ({Format(previousTime)}): an origin's recorded times never go back");
            }
            if (time > latest)
            {
                throw Refused(ReplicaRules.RecordedInFuture,
                    $"{_origin}'s change {change.OriginSequence} is recorded at {Format(time)}, more than {MaxClockSkew.TotalMinutes:0} minutes after this node's clock ({Format(now)})");
            }
            if (!ChangeHash.TryContentDigest(change, content, out var problem))
            {
                throw Refused(ReplicaRules.ChainBroken, $"{_origin}'s change {change.OriginSequence} has {problem}");
            }
            var index = _pending.Count;
            if (index >= MaxUnsigned) // for every change: checked only when the buffer grew, it let 65,536 wait
            {
                throw Refused(ReplicaRules.ChainBroken, $"{_origin}'s changes {_pending[0].OriginSequence}..{change.OriginSequence} arrived without a signed head of {_origin}'s log covering them");
            }
            if ((index + 1) * ChangeHash.Size > _pendingHashes.Length)
            {
                Array.Resize(ref _pendingHashes, _pendingHashes.Length * 2);
            }
            var link = _pendingHashes.AsSpan(index * ChangeHash.Size, ChangeHash.Size);
            ReadOnlySpan<byte> previous = index > 0 ? _lastPending : _empty ? [] : _hash;
            ChangeHash.Link(previous, _origin, change.OriginSequence, time, PolicyFields(change.Policy), content, ChangeHash.DraftSharingOf(change.Policy), link);
            link.CopyTo(_lastPending);
            _pending.Add(change);
            _pendingTime = time;
        }

        // The heads: each must verify, over the link computed here; the last one covers the most.
        var covered = 0;
        var heads = new List<LogHead>();
        foreach (var head in message.Heads)
        {
            if (head.Origin != _origin)
            {
                throw Refused(ReplicaRules.ChainBroken, $"a head of {head.Origin}'s log arrived in {_origin}'s");
            }
            var index = head.Sequence - _sequence - 1;
            if (index < 0)
            {
                continue; // a head of changes held already (a pull resumed before a placeholder): nothing new to cover
            }
            if (index >= _pending.Count)
            {
                throw Refused(ReplicaRules.ChainBroken, $"{_origin}'s head at change {head.Sequence} arrived before that change");
            }
            if (heads.Count > 0 && head.Sequence < heads[^1].Sequence)
            {
                // Heads come in sequence order: a later one read first would be kept above the changes released.
                throw Refused(ReplicaRules.ChainBroken, $"{_origin}'s head at change {head.Sequence} arrived after its head at {heads[^1].Sequence}: heads out of order");
            }
            // An origin signs a head when it commits the changes the head covers, never before. The signed time is also
            // what a retired key is judged by (ILogKeys.Find): without this, a thief of a retired key dated its heads
            // before the retirement and appended to a log this node holds past it.
            var recorded = ChangeHash.Micros(_pending[(int)index].RecordedTime);
            if (head.SignedTime is null || ChangeHash.Micros(head.SignedTime) < recorded)
            {
                throw Refused(ReplicaRules.Backdated,
                    $"{_origin}'s head at change {head.Sequence} is signed at {(head.SignedTime is null ? "no time" : Format(ChangeHash.Micros(head.SignedTime)))}, before that change was recorded ({Format(recorded)})");
            }
            var key = KeyOf(head);
            if (!LogHeadSignature.Verify(head, key))
            {
                throw Refused(ReplicaRules.SignatureInvalid, $"{_origin}'s head at change {head.Sequence} does not verify with {_origin}'s key {head.KeyId}");
            }
            if (!head.Hash.Span.SequenceEqual(_pendingHashes.AsSpan((int)index * ChangeHash.Size, ChangeHash.Size)))
            {
                throw Refused(ReplicaRules.ChainBroken,
                    $"{_origin}'s changes up to {head.Sequence} are not the ones {_origin} signed: a change was altered, left out or made up on the way");
            }
            if (head.Kind == LogHeadKind.KeyRotation)
            {
                HandOver(head);
            }
            heads.Add(head);
            covered = (int)index + 1;
        }
        HoldOrRelease(message, covered);
        if (covered == 0)
        {
            return VerifiedChanges.None;
        }

        var changes = _pending.GetRange(0, covered);
        var hashes = System.Buffers.ArrayPool<byte>.Shared.Rent(covered * ChangeHash.Size);
        _pendingHashes.AsSpan(0, covered * ChangeHash.Size).CopyTo(hashes);
        _pendingHashes.AsSpan((covered - 1) * ChangeHash.Size, ChangeHash.Size).CopyTo(_hash);
        _empty = false;
        _sequence = changes[^1].OriginSequence;
        _recordedTime = ChangeHash.Micros(changes[^1].RecordedTime);
        _pending.RemoveRange(0, covered);
        var rest = _pending.Count * ChangeHash.Size;
        _pendingHashes.AsSpan(covered * ChangeHash.Size, rest).CopyTo(_pendingHashes);
        return new VerifiedChanges(changes, hashes, heads) { Pooled = true, SuppressionMethod = message.SuppressionMethod };
    }

    /// <summary>
    /// Accounts for the messages whose changes wait for a head once <paramref name="covered"/> of the pending ones are
    /// released; refuses the feed when they exceed <see cref="MaxUnsignedBytes"/>. Only a message that leaves changes
    /// waiting is measured (the whole message, a bound from above).
    /// </summary>
    private void HoldOrRelease(StreamChangesResponse message, int covered)
    {
        var released = covered > 0 ? _pending[covered - 1].OriginSequence : long.MinValue;
        while (_pendingMessages.TryPeek(out var held) && held.Last <= released)
        {
            _pendingBytes -= _pendingMessages.Dequeue().Bytes;
        }
        if (_pending.Count > covered && message.Changes.Count > 0)
        {
            long size = message.CalculateSize();
            _pendingMessages.Enqueue((message.Changes[^1].OriginSequence, size));
            _pendingBytes += size;
            if (_pendingBytes > MaxUnsignedBytes)
            {
                throw Refused(ReplicaRules.ChainBroken,
                    $"{_origin}'s changes {_pending[0].OriginSequence}..{_pending[^1].OriginSequence} ({_pendingBytes / (1024 * 1024)} MiB) arrived without a signed head of {_origin}'s log covering them");
            }
        }
    }

    /// <summary>The feed ended: changes still waiting for their head will not get it from this call.</summary>
    public void End()
    {
        if (Pending is { } pending)
        {
            throw Refused(ReplicaRules.ChainBroken,
                $"the feed ended before a signed head of {_origin}'s log covered changes {pending.First}..{pending.Last}; none of them was applied");
        }
    }

    private ECDsa KeyOf(LogHead head) =>
        KeyFor(_origin, head.KeyId, head.Sequence, head.SignedTime, _keys, _handedOver, _rotatedAway, $"{_origin}'s head at change {head.Sequence}");

    /// <summary>
    /// The key <paramref name="origin"/>'s statement <paramref name="what"/> (a head, a lifecycle entry) at change <paramref name="sequence"/>,
    /// signed at <paramref name="signed"/> with key <paramref name="keyId"/>, verifies with: published for the origin and not
    /// retired by then, or handed over to by a verified rotation (until retired), and never one a verified rotation handed over
    /// from at an earlier change. Refuses (UNKNOWN_SIGNING_KEY) any other.
    /// </summary>
    public static ECDsa KeyFor(string origin, string keyId, long sequence, Google.Protobuf.WellKnownTypes.Timestamp? signed, ILogKeys keys,
        Dictionary<string, ECDsa> handedOver, Dictionary<string, long> rotatedAway, string what)
    {
        if (rotatedAway.TryGetValue(keyId, out var rotation) && sequence > rotation)
        {
            // The rotation's own COMMIT head shares its change; a later head with the old key is a thief's (the origin
            // keeps the old private key as .retired-<kid>.pem) until the identity server retires it, and after.
            throw Refused(ReplicaRules.UnknownSigningKey,
                $"{what} is signed with key {PeerText.Quote(keyId)}, which was handed over at change {rotation}: {origin}'s later heads are signed with the next key");
        }
        var signedTime = signed?.ToDateTimeOffset() ?? DateTimeOffset.MaxValue;
        if (handedOver.TryGetValue(keyId, out var handed) && !keys.RetiredBefore(origin, keyId, signedTime))
        {
            return handed; // a key a rotation handed over to, until the identity server retires it
        }
        if (keys.Find(origin, keyId, signedTime) is { } published)
        {
            return published;
        }
        keys.RefreshSoon();
        throw Refused(ReplicaRules.UnknownSigningKey,
            $"{what} is signed with key {PeerText.Quote(keyId)}, which the identity server does not publish for {origin} (yet), or had retired by then");
    }

    /// <summary>
    /// The keys verified rotations of <paramref name="origin"/> held in <paramref name="db"/> handed over to (by key id) and from
    /// (each with the rotation's change): what a verifier of the origin's heads and lifecycle entries starts from.
    /// </summary>
    public static async Task<(Dictionary<string, ECDsa> HandedOver, Dictionary<string, long> RotatedAway)> HandoversAsync(
        Store.NodeDbContext db, string origin, CancellationToken cancellationToken)
    {
        var handedOver = new Dictionary<string, ECDsa>();
        var rotatedAway = new Dictionary<string, long>();
        var rotations = await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.ToListAsync(
            db.LogHeads.Where(h => h.Origin == origin && h.Kind == LogHeadKind.KeyRotation && h.NextPublicKey != null)
                .Select(h => new { h.Sequence, h.KeyId, Next = h.NextPublicKey! }), cancellationToken);
        foreach (var rotation in rotations)
        {
            if (Mirps.Auth.LogKeys.TryImport(rotation.Next, out var key) && key is not null)
            {
                handedOver[Mirps.Auth.LogKeys.KeyId(rotation.Next)] = key;
            }
            RotatedAway(rotatedAway, rotation.KeyId, rotation.Sequence);
        }
        return (handedOver, rotatedAway);
    }

    private void HandOver(LogHead head)
    {
        if (!Mirps.Auth.LogKeys.TryImport(head.NextPublicKey.Span, out var next) || next is null)
        {
            throw Refused(ReplicaRules.SignatureInvalid, $"{_origin}'s key rotation at change {head.Sequence} names no ECDSA P-256 key");
        }
        _handedOver[Mirps.Auth.LogKeys.KeyId(head.NextPublicKey.Span)] = next;
        RotatedAway(_rotatedAway, head.KeyId, head.Sequence);
    }

    /// <summary>Records that key <paramref name="keyId"/> handed the log over at change <paramref name="sequence"/> (the earliest such change counts).</summary>
    public static void RotatedAway(Dictionary<string, long> rotatedAway, string keyId, long sequence)
    {
        if (!rotatedAway.TryGetValue(keyId, out var known) || sequence < known)
        {
            rotatedAway[keyId] = sequence;
        }
    }

    private byte[] PolicyFields(SharingPolicy? policy)
    {
        if (policy is null)
        {
            return ChangeHash.PolicyFields(null);
        }
        if (!_policies.TryGetValue(policy, out var fields))
        {
            if (_policies.Count > 1024)
            {
                _policies.Clear();
            }
            fields = ChangeHash.PolicyFields(policy);
            _policies[policy] = fields;
        }
        return fields;
    }

    /// <summary>
    /// Refuses (MALFORMED_CHANGE) a message with a recorded, release or signed time that a Timestamp cannot hold: converted,
    /// it threw an exception the pull does not expect, which stopped the node. Callers check it before any other rule.
    /// </summary>
    public static void RequireTimesInRange(StreamChangesResponse message)
    {
        foreach (var change in message.Changes)
        {
            if (change.RecordedTime is { } recorded && !InRange(recorded) || change.Policy?.ReleaseTime is { } release && !InRange(release))
            {
                throw Refused(ReplicaRules.MalformedChange, $"{change.Origin}'s change {change.OriginSequence} has a recorded or release time out of range");
            }
        }
        foreach (var head in message.Heads)
        {
            if (head.SignedTime is { } signed && !InRange(signed))
            {
                throw Refused(ReplicaRules.MalformedChange, $"{head.Origin}'s head at change {head.Sequence} has a signed time out of range");
            }
        }
    }

    /// <summary>A time a Timestamp may hold (0001-01-01 to 9999-12-31, as protobuf defines it), which then fits in microseconds too.</summary>
    private static bool InRange(Google.Protobuf.WellKnownTypes.Timestamp time) =>
        time.Seconds is >= -62_135_596_800 and <= 253_402_300_799 && time.Nanos is >= 0 and <= 999_999_999;

    private static string Format(long micros) => Store.StoreTime.ToTimestamp(micros).ToDateTimeOffset().ToString("u", System.Globalization.CultureInfo.InvariantCulture);

    private static PeerRefusedException Refused(string reason, string message) => new(reason, message);
}
