using Mirps.Observation.V1;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Catalogue.Validation;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Sync;

/// <summary>
/// Every rule a replica applies to what a peer sends, in one place. What breaks one is refused with a
/// <see cref="PeerRefusedException"/> naming the rule (the constants below) before anything of its batch
/// is written. The pull side (<see cref="PeerSyncWorker"/>) checks the peer and what it may relay; the
/// apply side (<see cref="ReplicaWriter"/>) asks <see cref="Admit"/> which changes to write. What a node
/// serves to each reader is decided at the serving node (Grpc/SyncGrpcService, Sharing/ServedObservations).
/// </summary>
public sealed class ReplicaRules(ObservationValidator validator, TimeProvider clock)
{
    /// <summary>A change that is not the next of the origin's log: changes before it are missing.</summary>
    public const string OutOfSequence = "OUT_OF_SEQUENCE";

    /// <summary>A change of another origin in this origin's feed.</summary>
    public const string WrongOrigin = "WRONG_ORIGIN";

    /// <summary>A change that cannot be written: no observation or recorded time, no period, a value that is not a number, another country's observation.</summary>
    public const string MalformedChange = "MALFORMED_CHANGE";

    /// <summary>A change whose content the origin's own node would refuse at submit (<see cref="ObservationValidator"/>).</summary>
    public const string InvalidContent = "INVALID_CONTENT";

    /// <summary>A relay served what the origin's sharing policy does not let the relay itself hold.</summary>
    public const string NotAllowedToRelay = "NOT_ALLOWED_TO_RELAY";

    /// <summary>The origin's hash chain does not hold: a change altered, left out, reordered or made up, or a head over other changes.</summary>
    public const string ChainBroken = "CHAIN_BROKEN";

    /// <summary>A head of the origin's log whose signature does not verify with the key it names.</summary>
    public const string SignatureInvalid = "SIGNATURE_INVALID";

    /// <summary>A head signed with a key the identity server does not publish for the origin.</summary>
    public const string UnknownSigningKey = "UNKNOWN_SIGNING_KEY";

    /// <summary>A change recorded before the origin's change before it.</summary>
    public const string Backdated = "BACKDATED";

    /// <summary>A change recorded later than this node's clock plus <see cref="ClockSkew"/>.</summary>
    public const string RecordedInFuture = "RECORDED_IN_FUTURE";

    /// <summary>A change withheld from this node (NOT_SHARED, SMALL_COUNT, or a reason no node serves) that the origin's signed policy lets it receive.</summary>
    public const string WronglyWithheld = "WRONGLY_WITHHELD";

    /// <summary>
    /// A node recovering its own State's log (<see cref="OriginRecovery"/>) got one of its own changes as a placeholder (NOT_HELD,
    /// EMBARGOED, any reason): the origin may read all of its own data, so that source's answer is wrong for it (a copy without the
    /// content would take the sequence for good: a node never pulls its own log again), and the next source is asked.
    /// </summary>
    public const string OwnChangeNotHeld = "OWN_CHANGE_NOT_HELD";

    /// <summary>The peer says it holds more of the origin's log than this node, but sends nothing for Node:PeerStallTimeout.</summary>
    public const string PeerStalled = "PEER_STALLED";

    /// <summary>The peer says it is another party's node than Node:Peers configures.</summary>
    public const string PeerNodeMismatch = "PEER_NODE_MISMATCH";

    /// <summary>
    /// How far an origin's clock may be ahead of this node's: a period counts as started when it had
    /// started at the change's recorded time, but never later than this node's clock plus this.
    /// </summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    // ---- The pull side: the peer, and what it may relay. ----

    /// <summary>
    /// The token sent was for the configured node only, and over TLS the handshake proved the peer's party
    /// (<see cref="PeerIdentity"/>); the node country the peer declares is informational, and must agree.
    /// </summary>
    public static void CheckDeclaredNode(string configured, string declared)
    {
        if (!string.Equals(configured, declared, StringComparison.OrdinalIgnoreCase))
        {
            throw new PeerRefusedException(PeerNodeMismatch, $"the peer says it is {PeerText.Quote(declared)}'s node, but Node:Peers configures it as {configured}'s; not pulling from it");
        }
    }

    /// <summary>
    /// A peer holds an origin's log up to the end of a commit, and sends each commit's signed head with the message that
    /// ends it: once the changes up to <paramref name="held"/> (what it held when the pull began) arrived, changes up to
    /// there still waiting for their head (<paramref name="pending"/>) will not get one (CHAIN_BROKEN, at once rather than
    /// never: a following feed does not end). The head was withheld, or the log is unsigned: an origin's node not upgraded
    /// to the signed change log yet, or a relay that has not pulled the origin's attested log. Nothing of it is applied,
    /// and what this node holds of the origin is kept.
    /// </summary>
    public static void CheckHeadsCome(string origin, string address, long held, (long First, long Last)? pending)
    {
        if (pending is { } waiting && waiting.First <= held && waiting.Last >= held)
        {
            throw new PeerRefusedException(ChainBroken,
                $"{address} holds {origin}'s log up to change {held}, but sent no signed head of {origin}'s covering changes {waiting.First}..{held}: " +
                $"a head withheld, or a log from before changes were signed ({origin}'s node not upgraded yet, or a relay that has not pulled {origin}'s attested log); nothing of it is applied, what is held here is kept");
        }
    }

    /// <summary>
    /// A replica accepts only what the serving node may hold itself: a source may not relay what the
    /// origin's policy withheld from it (the origin itself may serve anything). What the replica may
    /// receive is the serving node's decision, made for the token the replica presents.
    /// </summary>
    public static void CheckMayHold(IEnumerable<StoredObservation> changes, Reader source, string address, long now)
    {
        foreach (var change in changes)
        {
            if (!SharingRules.MayHold(source, change, now))
            {
                throw new PeerRefusedException(NotAllowedToRelay,
                    $"{address} ({source}) served {change.Origin}'s change {change.OriginSequence}, which {change.Origin}'s sharing policy does not let {source} hold; nothing from this batch was applied");
            }
        }
    }

    /// <summary>
    /// Why a change arrives withheld is the serving node's word: the origin signs the policy, not what a node made of
    /// it for this reader. A NOT_SHARED placeholder or a SMALL_COUNT value is final here (only NOT_HELD and ended
    /// embargoes are asked for again), so a relay could keep a change from this node for good by saying so. Each must
    /// be what the origin's policy, verified by <see cref="ChainVerifier"/> first, says for <paramref name="self"/>
    /// (the node's own party: the serving node judged the token of the node's credential).
    /// </summary>
    /// <param name="nowMicros">This node's clock: an EMBARGOED placeholder is refused when the signed policy has no
    /// release time or one more than <see cref="ClockSkew"/> before it (such a placeholder is asked for again at every
    /// reconnect, so a relay could make every pull of the origin start over from it). Null: not checked.</param>
    /// <param name="finalAt">
    /// For a reader that asks nothing again (<c>mirps regional verify</c>), the time now in microseconds: then an
    /// EMBARGOED or NOT_HELD placeholder is refused too unless the policy keeps the change from <paramref name="self"/>
    /// now (a release time still in the future, a State it does not share with), since what is withheld would
    /// silently leave the figures checked.
    /// </param>
    /// <param name="fromOrigin">Whether the peer is the origin's own node: a SMALL_COUNT from any other is refused (a relay could
    /// call any value under a threshold policy small, and the reader, who cannot see it, would never ask again); an
    /// honest relay serves NOT_HELD instead (Sharing/ServedObservations). Null: not checked.</param>
    public static void CheckWithheldByPolicy(IEnumerable<StoredObservation> changes, Reader self, string address, long? nowMicros = null, long? finalAt = null, bool? fromOrigin = null)
    {
        var skew = (long)ClockSkew.TotalMicroseconds;
        foreach (var change in changes)
        {
            var policy = RowPolicy.FromMessage(change.Policy);
            var mayReceive = self.IsSecretariat || self.Owns(change.Origin);
            var wrong = change.Withholding switch
            {
                Withholding.NotShared => mayReceive || policy.SharesWith(self.Country),
                Withholding.SmallCount => mayReceive || policy.SmallCountThreshold <= 1 || fromOrigin == false,
                // Checked against the rule by CheckComplements, with what this node holds of the table.
                Withholding.Complementary => mayReceive || fromOrigin == false,
                Withholding.Embargoed when nowMicros is { } now && (policy.ReleaseTime is not { } release || release < now - skew) => true,
                Withholding.Embargoed or Withholding.NotHeld => finalAt is { } final // asked for again, unless nothing is
                    && SharingRules.AccessOf(self, change.Origin, policy, small: false, final) == Access.Full,
                Withholding.Unspecified => false, // complete
                _ => true, // a reason no node serves: held as it came, it would never be asked for again
            };
            if (wrong)
            {
                var why = change.Withholding == Withholding.Embargoed && policy.ReleaseTime is { } release
                    ? $" (its signed release time {StoreTime.ToTimestamp(release).ToDateTimeOffset():u} has passed)"
                    : change.Withholding == Withholding.NotHeld && finalAt is not null ? $" ({address} says it does not hold it: verify with a node that does)" : "";
                throw new PeerRefusedException(WronglyWithheld,
                    $"{address} served {change.Origin}'s change {change.OriginSequence} as {change.Withholding}, but {change.Origin}'s signed sharing policy lets {self} receive it{why}" +
                    (finalAt is null ? "; nothing from this batch was applied" : ""));
            }
        }
    }

    /// <summary>
    /// For a node pulling its own State's log (recovery): every change must come whole, since the origin may read all of its own
    /// data; the first placeholder refuses the batch (<see cref="OwnChangeNotHeld"/>), nothing of it written. A withheld value
    /// (SMALL_COUNT, COMPLEMENTARY) is refused already by <see cref="CheckWithheldByPolicy"/>: the owner may receive it.
    /// </summary>
    public static void CheckWhole(IEnumerable<StoredObservation> changes, string origin, string address)
    {
        foreach (var change in changes)
        {
            if (ServedObservations.IsPlaceholder(change))
            {
                throw new PeerRefusedException(OwnChangeNotHeld,
                    $"{address} served {origin}'s own change {change.OriginSequence} as {change.Withholding}, without its content: {origin}'s node recovers its own log " +
                    "only whole (it may read all of its own data); nothing from this batch was applied, and the next source is asked");
            }
        }
    }

    /// <summary>
    /// A COMPLEMENTARY withholding (from the origin's node only: <see cref="CheckWithheldByPolicy"/>) must be one the rule
    /// produces (<see cref="ComplementarySuppression"/>), recomputed here over what this node holds of the change's table
    /// (<paramref name="held"/>: its rows of the tables of <paramref name="changes"/>, every revision) and the changes of this
    /// message: the small counts (SMALL_COUNT here, or held with the status CONFIDENTIAL) are the pattern the rule reads, and
    /// a complementary withholding the rule does not produce is WRONGLY_WITHHELD, final as a small count is. The rule needs
    /// every revision of the table: when <paramref name="keysUnknownBefore"/> (the first sequence of a change this node holds
    /// only as a placeholder, whose key it does not know) comes before a change, that change is the origin's word. The rule is
    /// complementary-suppression method <paramref name="method"/>, the one in force for the origin (<see cref="SuppressionMethods.ToCheck"/>).
    /// </summary>
    public void CheckComplements(string origin, IReadOnlyList<StoredObservation> changes, IReadOnlyList<ObservationRow> held, long? keysUnknownBefore,
        uint method = Mirps.Log.SuppressionMethod.Default)
    {
        var catalogue = validator.Catalogue;
        foreach (var table in changes.Where(c => c.Withholding == Withholding.Complementary && !(c.OriginSequence > keysUnknownBefore))
            .GroupBy(c => ComplementaryWithholding.Table.Of(c.Observation.IndicatorCode, c.Observation.Country, c.Observation.Period)))
        {
            var (indicator, country, year) = table.Key;
            var arriving = changes.Where(c => !ServedObservations.IsPlaceholder(c)
                && ComplementaryWithholding.Table.Of(c.Observation.IndicatorCode, c.Observation.Country, c.Observation.Period) == table.Key).ToList();
            var sequences = arriving.Select(c => c.OriginSequence).ToHashSet();
            var revisions = held
                .Where(r => r.Origin == origin && r.IndicatorCode == indicator && r.Country == country && ComplementaryWithholding.YearOf(r.Period) == year
                    && !sequences.Contains(r.OriginSequence))
                .Select(r => new ComplementarySuppression.Revision(r.OriginSequence, r.RecordedTime, ComplementaryWithholding.DimensionValues(r), r.Deleted,
                    !r.Deleted && r.ValueWithheld && r.Status == ObservationStatus.Confidential, r.Period))
                .Concat(arriving.Select(c => new ComplementarySuppression.Revision(c.OriginSequence, StoreTime.ToMicros(c.RecordedTime.ToDateTimeOffset()),
                    ComplementaryWithholding.DimensionValues(c.Observation, catalogue), c.Deleted, !c.Deleted && c.Withholding == Withholding.SmallCount, c.Observation.Period)))
                .ToList();
            var complements = ComplementarySuppression.Complements(revisions, SuppressionMethods.RuleOf(catalogue, indicator, method));
            if (table.FirstOrDefault(c => !complements.Contains(c.OriginSequence)) is { } wrong)
            {
                throw new PeerRefusedException(WronglyWithheld,
                    $"{origin}'s change {wrong.OriginSequence} ({PeerText.Quote(wrong.Observation.Period)}) arrived as COMPLEMENTARY, but complementary suppression (method {method}) over what this node holds of " +
                    $"({indicator}, {country}, {year} and its quarters and months) does not withhold it; nothing from this batch was applied");
            }
        }
    }

    // ---- The apply side: the origin's log, and each change's content. ----

    /// <summary>
    /// Sorts one message of <paramref name="origin"/>'s feed, in sequence order, against the log held here
    /// (its last change <paramref name="last"/>, and the placeholders <paramref name="held"/> from the
    /// message's first sequence on): every change is of the origin; a change already held is a duplicate,
    /// except that a complete change replaces the placeholder held for it (an embargo ended, or a relay had
    /// less than this node may hold), and a placeholder with another reason replaces it too (an embargo
    /// became "not shared", say); any other change must be the next of the log; a complete change must
    /// pass <see cref="CheckChange"/>. The first change that breaks a rule refuses the whole message.
    /// </summary>
    /// <param name="contentChecked">The changes passed <see cref="CheckContent"/> already (the sync worker checks them as it reads them).</param>
    public Admitted Admit(string origin, IReadOnlyList<StoredObservation> changes, long last, Dictionary<long, Withholding> held, bool contentChecked = false)
    {
        var admitted = new Admitted(changes.Count);
        var latest = clock.GetUtcNow() + ClockSkew;
        foreach (var change in changes)
        {
            if (change.Origin != origin)
            {
                throw new PeerRefusedException(WrongOrigin, $"a change of {PeerText.Quote(change.Origin)} arrived in {origin}'s feed");
            }
            var isPlaceholder = ServedObservations.IsPlaceholder(change);
            if (change.OriginSequence <= last)
            {
                if (held.TryGetValue(change.OriginSequence, out var reason) && (!isPlaceholder || change.Withholding != reason))
                {
                    if (isPlaceholder)
                    {
                        admitted.Placeholders.Add(change);
                    }
                    else
                    {
                        if (!contentChecked)
                        {
                            CheckChange(origin, change, latest);
                        }
                        admitted.Replacing.Add(change);
                    }
                    held.Remove(change.OriginSequence);
                    continue;
                }
                admitted.Duplicates++;
                continue;
            }
            if (change.OriginSequence != last + 1)
            {
                throw new PeerRefusedException(OutOfSequence,
                    $"{origin}'s change {change.OriginSequence} arrived after {last}: " +
                    (change.OriginSequence == last + 2 ? $"change {last + 1} is missing" : $"changes {last + 1}..{change.OriginSequence - 1} are missing"));
            }
            if (isPlaceholder)
            {
                admitted.Placeholders.Add(change);
            }
            else
            {
                if (!contentChecked)
                {
                    CheckChange(origin, change, latest);
                }
                admitted.Accepted.Add(change);
            }
            last = change.OriginSequence;
        }
        admitted.Last = last;
        return admitted;
    }

    /// <summary>
    /// <see cref="CheckChange"/> for every complete (or small-count-withheld) change of a message: run by the sync
    /// worker on its read-ahead thread, while the writer applies the message before, rather than under the write lock.
    /// </summary>
    public void CheckContent(string origin, IEnumerable<StoredObservation> changes)
    {
        var latest = clock.GetUtcNow() + ClockSkew;
        var memo = new ValidKeyMemo(); // a message's changes mostly repeat the key parts of the one before
        foreach (var change in changes)
        {
            if (!ServedObservations.IsPlaceholder(change))
            {
                CheckChange(origin, change, latest, memo);
            }
        }
    }

    /// <summary>
    /// Refuses a complete (or small-count-withheld) change no node should have sent. Malformed: no
    /// observation or recorded time, a period that is not one, a value that is not a number (SQLite would
    /// store NaN as NULL), or another country's observation. Invalid content: anything a submit at the
    /// origin refuses (<see cref="ObservationValidator.ValidateChange"/>: negative values, unknown codes,
    /// undefined statuses, over-long notes, periods, the indicator's declared dimensions), checked for
    /// everything but the value when the value is withheld, for the key alone in a deletion. A period must
    /// have started by the change's recorded time (at most <paramref name="latest"/>).
    /// </summary>
    private void CheckChange(string origin, StoredObservation change, DateTimeOffset latest, ValidKeyMemo? memo = null)
    {
        var o = change.Observation;
        if (o is null || change.RecordedTime is null || !Period.TryParse(o.Period, out _) || !double.IsFinite(o.Value))
        {
            throw new PeerRefusedException(MalformedChange,
                $"{origin}'s change {change.OriginSequence} has " +
                (o is null ? "no observation" : change.RecordedTime is null ? "no recorded time"
                    : !double.IsFinite(o.Value) ? $"the value {o.Value}" : $"the period '{o.Period}'"));
        }
        if (o.Country != origin)
        {
            // Only a State's own node writes its country's observations: a change of another country in this log is forged or broken.
            throw new PeerRefusedException(MalformedChange,
                $"{origin}'s change {change.OriginSequence} is an observation of {PeerText.Quote(o.Country)}: an origin writes only its own country's data");
        }
        var recorded = change.RecordedTime.ToDateTimeOffset();
        var today = DateOnly.FromDateTime((recorded < latest ? recorded : latest).UtcDateTime);
        var content = change.Deleted ? ChangeContent.Deletion
            : change.Withholding.IsValueWithheld() ? ChangeContent.ValueWithheld
            : ChangeContent.Complete;
        if (validator.ValidateChange(o, content, origin, today, memo) is [var first, ..] violations)
        {
            throw new PeerRefusedException(InvalidContent,
                $"{origin}'s change {change.OriginSequence} is refused, as {origin}'s node would refuse it: {first.Field}: {PeerText.Clean(first.Description)}" +
                (violations.Count > 1 ? $" (and {violations.Count - 1} more)" : "") + "; nothing from this batch was applied");
        }
    }

    /// <summary>A message's changes as <see cref="Admit"/> sorted them, each list in sequence order.</summary>
    public sealed class Admitted(int capacity)
    {
        /// <summary>Complete changes (or small counts withheld) that are the next of the log.</summary>
        public List<StoredObservation> Accepted { get; } = new(capacity);

        /// <summary>Placeholders: the next of the log, or a new reason for one held.</summary>
        public List<StoredObservation> Placeholders { get; } = [];

        /// <summary>Complete changes in place of the placeholders held for them.</summary>
        public List<StoredObservation> Replacing { get; } = [];

        /// <summary>Changes held already.</summary>
        public int Duplicates { get; set; }

        /// <summary>The log's last change once the message is applied.</summary>
        public long Last { get; set; }
    }
}
