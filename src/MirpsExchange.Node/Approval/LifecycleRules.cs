using Mirps.Log;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Validation;
using MirpsExchange.Node.Sync;

namespace MirpsExchange.Node.Approval;

/// <summary>
/// The rules every lifecycle entry meets, whoever checks it: a replica before it stores a peer's page (<see cref="LifecycleLog.VerifyAsync"/>)
/// and `mirps regional verify` reading a State's lifecycle log or the Secretariat's decision log from a node. One place, so the
/// command line checks exactly what a replica checks: the chain, the recorded time, the content, the anchor's order, the key and the
/// signature. Each refusal is a <see cref="PeerRefusedException"/> with the replica's reason.
/// </summary>
public static class LifecycleRules
{
    /// <summary>Where a verifier stands in an origin's lifecycle log: the last entry passed (0, empty before the first), its recorded time, anchor and key.</summary>
    public readonly record struct Position(long Sequence, byte[] Hash, long RecordedTime, long Anchor, string KeyId)
    {
        public static Position Start => new(0, [], 0, 0, "");

        /// <summary>The position after <paramref name="entry"/>, recorded at <paramref name="micros"/>, has passed.</summary>
        public Position After(LifecycleEntry entry, long micros) => new(entry.EntrySequence, LifecycleEntrySignature.Hash(entry), micros,
            entry.Origin == Mirps.Auth.MirpsAuth.Secretariat ? Anchor : entry.LogSequence, entry.KeyId);
    }

    /// <summary>
    /// Checks <paramref name="entry"/> as the next entry of <paramref name="origin"/>'s lifecycle log after <paramref name="at"/>: the next of
    /// the chain (sequence and previous hash, <see cref="CheckChained"/>), a recorded time in range, no earlier than the entry before and no later than <paramref name="latestMicros"/>
    /// (a clock plus <see cref="ReplicaRules.ClockSkew"/>), content of its kind (a State's APPROVE or UNAPPROVE of its own; the Secretariat's ACCEPT, or
    /// REJECT with a reason, of a MIRPS State's cell), a group and period of <paramref name="catalogue"/>, reason and actor within bounds and free of
    /// control characters, and a State's anchor never going back. Returns the entry's recorded time (microseconds).
    /// </summary>
    public static long CheckNext(LifecycleEntry entry, string origin, Position at, StandardCatalogue catalogue, long latestMicros)
    {
        var what = $"{origin}'s lifecycle entry {entry.EntrySequence}";
        var decisions = origin == Mirps.Auth.MirpsAuth.Secretariat;
        var micros = CheckChained(entry, origin, at);
        if (micros > latestMicros)
        {
            throw new PeerRefusedException(ReplicaRules.RecordedInFuture, $"{what} is recorded more than {ReplicaRules.ClockSkew.TotalMinutes:0} minutes after this node's clock");
        }
        if (!(decisions ? IsDecision(entry, catalogue) : entry.Action is LifecycleAction.Approve or LifecycleAction.Unapprove && entry.Country.Length == 0)
            || !catalogue.Catalog.IndicatorGroups.Any(g => g.Id == entry.GroupId)
            || !Catalogue.Periods.Period.TryParse(entry.Period, out var period) || period.ToString() != entry.Period || entry.Reason.Length > 1_000 || entry.Actor.Length > 200
            || ObservationValidator.RefusedCharacterAt(entry.Reason) >= 0 || ObservationValidator.RefusedCharacterAt(entry.Actor) >= 0)
        {
            throw new PeerRefusedException(ReplicaRules.InvalidContent, decisions
                ? $"{what} is no acceptance or rejection (with a reason) of a MIRPS State's group ({PeerText.Quote(entry.GroupId)}) and period ({PeerText.Quote(entry.Period)}) of catalogue {catalogue.Version}, or has a reason or actor too long or holding a control character"
                : $"{what} names no action of a State's own log, group ({PeerText.Quote(entry.GroupId)}) or period ({PeerText.Quote(entry.Period)}) of catalogue {catalogue.Version}, or a reason or actor too long or holding a control character");
        }
        if (!decisions && entry.LogSequence < at.Anchor)
        {
            // The origin anchors each entry to its change log as it stands: an anchor never goes back. Without this, a
            // thief of a rotated-away key anchored its entry before the rotation, where that key still signed.
            throw new PeerRefusedException(ReplicaRules.ChainBroken, $"{what} is anchored to change {entry.LogSequence}, before change {at.Anchor} the entry before it is anchored to");
        }
        if (!LifecycleEntrySignature.ReasonMatches(entry))
        {
            // The signature covers the reason through its salted hash: a text altered on the way, or served without its salt, does not match it.
            throw new PeerRefusedException(ReplicaRules.SignatureInvalid, $"{what} is served with a reason that is not the one {origin} signed (its text and salt do not match the reason hash)");
        }
        return micros;
    }

    /// <summary>
    /// Checks that <paramref name="entry"/> is the next entry of <paramref name="origin"/>'s lifecycle log after <paramref name="at"/>: its
    /// origin, its sequence and previous hash, and a recorded time in range and no earlier than the entry before's (an origin's recorded
    /// times never go back along its chain). Nothing of its content: `mirps regional verify` reads the Secretariat's decisions beyond an
    /// export's head with this and the signature alone (<see cref="CheckSigned"/>), since the catalogue it runs with need not be the one a
    /// later decision was taken under (second hostile review, finding 7). Returns the entry's recorded time (microseconds).
    /// </summary>
    public static long CheckChained(LifecycleEntry entry, string origin, Position at)
    {
        var what = $"{origin}'s lifecycle entry {entry.EntrySequence}";
        if (entry.Origin != origin)
        {
            throw new PeerRefusedException(ReplicaRules.ChainBroken, $"a lifecycle entry of {PeerText.Quote(entry.Origin)} arrived in {origin}'s lifecycle log");
        }
        if (entry.EntrySequence != at.Sequence + 1 || !entry.PreviousHash.Span.SequenceEqual(at.Hash))
        {
            throw new PeerRefusedException(ReplicaRules.ChainBroken, $"{what} does not follow entry {at.Sequence} held here: an entry was left out, reordered or altered on the way");
        }
        if (entry.RecordedTime is not { } recorded || recorded.Seconds is < 0 or > 253_402_300_799 || recorded.Nanos is < 0 or > 999_999_999)
        {
            throw new PeerRefusedException(ReplicaRules.MalformedChange, $"{what} has no recorded time, or one out of range");
        }
        var micros = ChangeHash.Micros(recorded);
        if (micros < at.RecordedTime)
        {
            throw new PeerRefusedException(ReplicaRules.Backdated, $"{what} is recorded before the entry before it: an origin's recorded times never go back");
        }
        return micros;
    }

    /// <summary>
    /// Checks <paramref name="entry"/>'s signature with the key <see cref="ChainVerifier.KeyFor"/> finds for it (published, or handed over by a
    /// verified rotation of the origin's change log, and not one a rotation handed away before the entry's anchor).
    /// </summary>
    public static void CheckSigned(LifecycleEntry entry, string origin, ILogKeys keys, Dictionary<string, System.Security.Cryptography.ECDsa> handedOver,
        Dictionary<string, long> rotatedAway)
    {
        var what = $"{origin}'s lifecycle entry {entry.EntrySequence}";
        var key = ChainVerifier.KeyFor(origin, entry.KeyId, entry.LogSequence, entry.RecordedTime, keys, handedOver, rotatedAway, what);
        if (!LifecycleEntrySignature.Verify(entry, key))
        {
            throw new PeerRefusedException(ReplicaRules.SignatureInvalid, $"{what} does not verify with {origin}'s key {PeerText.Quote(entry.KeyId)}");
        }
    }

    /// <summary>
    /// A verified KEY_ROTATION head of an origin's change log: its change, the key it handed over from, when it was signed
    /// (microseconds), the key it handed over to. A replica reads them from the heads it stores; `mirps regional verify` from the
    /// heads of the change log it verified.
    /// </summary>
    public readonly record struct Rotation(long Sequence, string From, long SignedTime, string To)
    {
        /// <summary>The rotation <paramref name="head"/> (a verified KEY_ROTATION head) records.</summary>
        public static Rotation Of(LogHead head) =>
            new(head.Sequence, head.KeyId, ChangeHash.Micros(head.SignedTime), Mirps.Auth.LogKeys.KeyId(head.NextPublicKey.Span));
    }

    /// <summary>
    /// Refuses (UNKNOWN_SIGNING_KEY) <paramref name="entry"/>, recorded at <paramref name="micros"/>, when one of <paramref name="rotations"/>
    /// (earliest first) handed its key over and the entry is dated after that rotation was signed, or follows an entry signed with the key
    /// that rotation (or a later one) handed over to (<paramref name="previousKey"/>). The origin signs every entry after its rotation with
    /// the next key; the old one stays on disk (.retired-&lt;kid&gt;.pem) and is published until the admin retires it, so a thief of it
    /// otherwise appended entries to the origin's lifecycle log, anchored before the rotation, that every replica accepted.
    /// </summary>
    public static void RequireNotRotatedAway(LifecycleEntry entry, long micros, string previousKey, IReadOnlyList<Rotation> rotations)
    {
        var what = $"{entry.Origin}'s lifecycle entry {entry.EntrySequence}";
        var from = -1;
        for (var i = 0; i < rotations.Count && from < 0; i++)
        {
            from = rotations[i].From == entry.KeyId ? i : -1;
        }
        if (from < 0)
        {
            return;
        }
        var rotation = rotations[from];
        if (micros > rotation.SignedTime)
        {
            throw new PeerRefusedException(ReplicaRules.UnknownSigningKey,
                $"{what} is signed with key {PeerText.Quote(entry.KeyId)}, which {entry.Origin} handed over at change {rotation.Sequence}, and dated after that rotation was signed");
        }
        if (previousKey != entry.KeyId && rotations.Skip(from).Any(r => r.To == previousKey))
        {
            throw new PeerRefusedException(ReplicaRules.UnknownSigningKey,
                $"{what} is signed with key {PeerText.Quote(entry.KeyId)}, which {entry.Origin} handed over at change {rotation.Sequence}, after an entry signed with a later key ({PeerText.Quote(previousKey)})");
        }
    }

    /// <summary>
    /// Checks a State's <paramref name="entry"/>, recorded at <paramref name="micros"/>, against the change it is anchored to, as the verifier
    /// holds it: recorded at <paramref name="anchoredTime"/> with link <paramref name="link"/> (null: not known, nothing to compare). The entry
    /// approves exactly that log (its log hash is that change's link: CHAIN_BROKEN otherwise), and is not recorded before that change
    /// (BACKDATED: the reporting calendar judges a State by when it approved, and an approval never comes before the figures it approves).
    /// </summary>
    public static void CheckAnchored(LifecycleEntry entry, string origin, long micros, long anchoredTime, ReadOnlySpan<byte> link)
    {
        var what = $"{origin}'s lifecycle entry {entry.EntrySequence}";
        if (!link.IsEmpty && !entry.LogHash.Span.SequenceEqual(link))
        {
            throw new PeerRefusedException(ReplicaRules.ChainBroken, $"{what} approves {origin}'s log at change {entry.LogSequence} as a log that is not the one held here");
        }
        if (micros < anchoredTime)
        {
            throw new PeerRefusedException(ReplicaRules.Backdated, $"{what} is recorded before change {entry.LogSequence}, which it approves");
        }
    }

    /// <summary>An entry of the Secretariat's decision log: ACCEPT, or REJECT with a reason (its text, or for a reader who may not read it, its hash), of a MIRPS State's cell.</summary>
    private static bool IsDecision(LifecycleEntry entry, StandardCatalogue catalogue) =>
        catalogue.ReportingCountries.Contains(entry.Country)
        && (entry.Action == LifecycleAction.Accept || entry.Action == LifecycleAction.Reject && (entry.Reason.Trim().Length > 0 || !entry.ReasonHash.IsEmpty));
}
