using Google.Protobuf;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Mirps.Log;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Validation;
using Mirps.Auth;
using MirpsExchange.Node.Store;
using MirpsExchange.Node.Sync;

namespace MirpsExchange.Node.Approval;

/// <summary>
/// An origin's lifecycle log (protos/README.md, "Approval"): the origin's node records its State's approvals and
/// unapprovals as entries signed with its log-signing key, chained to each other and anchored to its change log; a
/// replica stores an entry only once <see cref="VerifyAsync"/> passed it. The Secretariat's decisions (accepted, rejected)
/// are the same kind of log, of origin "secretariat" (<see cref="MirpsAuth.Secretariat"/>), signed with the Secretariat's
/// own log-signing key, each anchored to the State's approval entry it decides. Writes take the node's <see cref="WriteGate"/>,
/// so an entry's anchor is the log as it stands between two commits, and commit durably (<see cref="SqlitePragmas.DurableCommitAsync"/>):
/// an entry acknowledged, which replicas may hold, survives power loss, so its sequence is never signed again for another entry.
/// </summary>
public sealed partial class LifecycleLog(NodeDbContext db, WriteGate gate, ChangeLog.OriginSigning signing, TimeProvider clock, RecoveryState recovery,
    Microsoft.Extensions.Options.IOptions<NodeOptions> options, Microsoft.Extensions.Logging.ILogger<LifecycleLog> logger)
{
    /// <summary>Entries one ListLifecycleEntries answer holds at most.</summary>
    public const int MaxPage = 1_000;

    /// <summary>What an entry of the Secretariat's decision log decides: <paramref name="Country"/>'s approval entry, its sequence and entry hash.</summary>
    public readonly record struct Decided(string Country, long EntrySequence, byte[] EntryHash);

    /// <summary>Whether <paramref name="origin"/> names a lifecycle log: a MIRPS State's, or the Secretariat's decision log.</summary>
    public static bool IsOrigin(StandardCatalogue catalogue, string origin) => origin == MirpsAuth.Secretariat || catalogue.ReportingCountries.Contains(origin);

    /// <summary>
    /// Records <paramref name="action"/> on every cell of <paramref name="origin"/> (this node's own lifecycle log) in one transaction,
    /// after <paramref name="judge"/> (run inside it, under the gate) found nothing to refuse. A State's entries are anchored to its
    /// change log as it stands; the Secretariat's decisions to what <paramref name="judge"/> returns, one per cell in order.
    /// </summary>
    public async Task<List<LifecycleEntry>> RecordAsync(string origin, IReadOnlyCollection<(string Group, string Period)> cells, LifecycleAction action,
        string reason, string actor, Func<CancellationToken, Task<IReadOnlyList<Decided>?>>? judge, CancellationToken cancellationToken, long? recordedAt = null)
    {
        // Not while the node recovers its log: its next entry sequence may be one the federation already holds (equivocation).
        recovery.RequireWritable();
        using var held = await gate.EnterAsync(cancellationToken);
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            // As a submit's: what is acknowledged survives power loss (synchronous=FULL for this commit).
            await using var durable = await SqlitePragmas.DurableCommitAsync(db.Database.GetDbConnection(), options.Value.SubmitSynchronous, cancellationToken);
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var decided = judge is null ? null : await judge(cancellationToken);
            var (logSequence, logTime, logHash) = decided is null
                ? await OriginLog.LinkAsync(db.Database.GetDbConnection(), transaction.GetDbTransaction(), origin, null, cancellationToken)
                : (0L, 0L, null);
            var last = await db.LifecycleEntries.AsNoTracking().Where(e => e.Origin == origin).OrderByDescending(e => e.EntrySequence).FirstOrDefaultAsync(cancellationToken);
            var now = recordedAt ?? StoreTime.ToMicros(clock.GetUtcNow());
            // Never before the entry before it, nor before the change it is anchored to (a clock set back).
            var time = Math.Max(now, Math.Max(last?.RecordedTime ?? 0, logTime));
            var (sequence, previous) = (last?.EntrySequence ?? 0, last?.EntryHash ?? []);
            var entries = new List<LifecycleEntry>();
            var index = 0;
            foreach (var (group, period) in cells)
            {
                var anchor = decided?[index++];
                var entry = new LifecycleEntry
                {
                    Origin = origin,
                    EntrySequence = ++sequence,
                    PreviousHash = ByteString.CopyFrom(previous),
                    Country = anchor?.Country ?? "",
                    GroupId = group,
                    Period = period,
                    Action = action,
                    LogSequence = anchor?.EntrySequence ?? logSequence,
                    LogHash = ByteString.CopyFrom(anchor?.EntryHash ?? logHash ?? []),
                    Reason = reason,
                    Actor = actor,
                    RecordedTime = StoreTime.ToTimestamp(time),
                };
                LifecycleEntrySignature.CommitReason(entry); // signed through its salted hash: served as text only where it may be read
                signing.LifecycleSigner.Sign(entry);
                previous = LifecycleEntrySignature.Hash(entry);
                db.LifecycleEntries.Add(ToRow(entry, previous, now));
                entries.Add(entry);
            }
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            signing.HighWater?.SignedEntries(sequence); // as the change log's (ChangeLog/SignedHighWater)
            return entries;
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    /// <summary>
    /// On the Secretariat's node, once it holds its decision log as the federation does (<see cref="DecisionLogGuard"/>, never
    /// before: the log may be incomplete, and an entry signed here would take a sequence the States hold another decision at):
    /// the decisions it recorded before they were a signed log (the unsigned acceptances table) are signed into its decision
    /// log, in the order and at the times recorded, each removed in the transaction that signs it, so a crash in between
    /// neither loses nor repeats one. A decision the log already holds (a store restored from before the upgrade, whose log
    /// was then recovered from the States) is removed without being signed again: signed again after a later decision on the
    /// cell, it would undo that one. Nothing to do on a State's node, or once done.
    /// </summary>
    public static async Task SignEarlierDecisionsAsync(IServiceProvider services, CancellationToken cancellationToken = default)
    {
        if (services.GetRequiredService<Microsoft.Extensions.Options.IOptions<NodeOptions>>().Value.Country.Length > 0)
        {
            return;
        }
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NodeDbContext>();
        var log = scope.ServiceProvider.GetRequiredService<LifecycleLog>();
        foreach (var decision in await db.Acceptances.AsNoTracking().OrderBy(a => a.Id).ToListAsync(cancellationToken))
        {
            var action = decision.Accepted ? LifecycleAction.Accept : LifecycleAction.Reject;
            if (await db.LifecycleEntries.AsNoTracking().AnyAsync(e => e.Origin == MirpsAuth.Secretariat && e.Country == decision.Country
                && e.LogSequence == decision.EntrySequence && e.GroupId == decision.GroupId && e.Period == decision.Period && e.Action == action
                // A rejection recovered from a node that may not read its reason holds only the reason's hash (an unsalted text cannot be
                // matched to it): the same decision all the same, by its action, approval, cell and actor.
                && (e.Reason == decision.Reason || e.Reason == "" && e.ReasonHash != null) && e.Actor == decision.Actor, cancellationToken))
            {
                // In a transaction, so the store lock's fence checks it (StoreLockFence: a set-based delete outside one is not).
                await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
                await db.Acceptances.Where(a => a.Id == decision.Id).ExecuteDeleteAsync(cancellationToken);
                await transaction.CommitAsync(cancellationToken);
                continue;
            }
            await log.RecordAsync(MirpsAuth.Secretariat, [(decision.GroupId, decision.Period)], action,
                decision.Reason, decision.Actor, async token =>
                {
                    await db.Acceptances.Where(a => a.Id == decision.Id).ExecuteDeleteAsync(token);
                    var approval = await db.LifecycleEntries.AsNoTracking().Where(e => e.Origin == decision.Country && e.EntrySequence == decision.EntrySequence)
                        .Select(e => e.EntryHash).FirstOrDefaultAsync(token);
                    return [new Decided(decision.Country, decision.EntrySequence, approval ?? [])];
                }, cancellationToken, decision.RecordedTime);
        }
    }

    /// <summary>
    /// At start: how many entries of this node's own lifecycle log (the Secretariat's decision log on its node) hold a reason signed
    /// before reasons were committed. They verify only whole, so every reader of the log still reads their text; the operator is
    /// told once per start (protos/README.md, "Who reads a reason"). Nothing to say when there are none.
    /// </summary>
    public static async Task NoteLegacyReasonsAsync(IServiceProvider services, CancellationToken cancellationToken = default)
    {
        var country = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<NodeOptions>>().Value.Country;
        var origin = country.Length > 0 ? country : MirpsAuth.Secretariat;
        await using var scope = services.CreateAsyncScope();
        var legacy = await scope.ServiceProvider.GetRequiredService<NodeDbContext>().LifecycleEntries.AsNoTracking()
            .CountAsync(e => e.Origin == origin && e.Reason != "" && e.ReasonHash == null, cancellationToken);
        if (legacy > 0)
        {
            LogLegacyReasonsReadable(services.GetRequiredService<Microsoft.Extensions.Logging.ILogger<LifecycleLog>>(), legacy, origin);
        }
    }

    [Microsoft.Extensions.Logging.LoggerMessage(EventName = "LegacyReasonsReadable", Level = Microsoft.Extensions.Logging.LogLevel.Warning,
        Message = "{Count} entries of {Origin}'s lifecycle log hold a reason signed before reasons were committed: they verify only whole, so every " +
        "node that pulls the log reads their text. Later entries commit their reason, served only to the State concerned and the Secretariat")]
    private static partial void LogLegacyReasonsReadable(Microsoft.Extensions.Logging.ILogger logger, int count, string origin);

    /// <summary>
    /// The entries of <paramref name="origin"/> held here after <paramref name="after"/>, oldest first, as <paramref name="reader"/>
    /// may read them: a reason's text only to the State concerned and the Secretariat (<see cref="ReadsReason"/>), the entry without
    /// it, still verifiable, to anyone else. A relay serves what it holds the same way, so it passes a text on only where it may.
    /// </summary>
    public async Task<List<LifecycleEntry>> ListAsync(string origin, long after, int count, Sharing.Reader reader, CancellationToken cancellationToken) =>
        (await db.LifecycleEntries.AsNoTracking()
            .Where(e => e.Origin == origin && e.EntrySequence > after)
            .OrderBy(e => e.EntrySequence)
            .Take(count)
            .ToListAsync(cancellationToken)).ConvertAll(row => ToMessage(row) is var entry && ReadsReason(reader, entry.Origin, entry.Country)
                ? entry
                : LifecycleEntrySignature.WithoutReason(entry));

    /// <summary>
    /// Whether <paramref name="reader"/> reads the reasons of <paramref name="origin"/>'s lifecycle entries about <paramref name="country"/>
    /// (empty in a State's own log): the State concerned, identified by its credentials, and the Secretariat (hostile review, finding 3).
    /// </summary>
    public static bool ReadsReason(Sharing.Reader reader, string origin, string country) =>
        reader.IsSecretariat || reader.Owns(country.Length > 0 ? country : origin);

    /// <summary>The last entry of <paramref name="origin"/> held here: its sequence, hash and recorded time ((0, empty, 0) before the first).</summary>
    public async Task<(long Sequence, byte[] Hash, long RecordedTime)> LastAsync(string origin, CancellationToken cancellationToken) =>
        await db.LifecycleEntries.AsNoTracking().Where(e => e.Origin == origin).OrderByDescending(e => e.EntrySequence)
            .Select(e => new { e.EntrySequence, e.EntryHash, e.RecordedTime }).FirstOrDefaultAsync(cancellationToken) is { } last
            ? (last.EntrySequence, last.EntryHash, last.RecordedTime)
            : (0, [], 0);

    /// <summary>
    /// A peer's entries of <paramref name="origin"/>, checked in order after the last one held here: each must be the next
    /// of the origin's lifecycle log (its sequence and previous hash), recorded no earlier than the one before and not in the
    /// future, name a group and period of the catalogue, be signed by the origin's key (published, or handed over by a
    /// verified rotation) and be anchored to a change whose link this node holds as the entry says. Returns the entries that
    /// passed, with their hashes; stops, without refusing, at the first entry anchored beyond the change log held here (the
    /// changes come first). Entries at the page's start, after <paramref name="after"/> (the last entry held here when the page was asked
    /// for), that this node already holds exactly (another pull of the log stored them meanwhile) are left out, with nothing refused or
    /// logged (<see cref="AfterHeldAsync"/>); an entry at or before <paramref name="after"/> is no answer to the request, and refused. Refuses (<see cref="PeerRefusedException"/>, nothing written) anything else. The Secretariat's
    /// decision log (origin "secretariat") is checked the same way, with its own rules for content (ACCEPT or REJECT of a MIRPS
    /// State's cell, a rejection with a reason) and anchor (the State's approval entry of that cell, when held here).
    /// </summary>
    public async Task<List<(LifecycleEntry Entry, byte[] Hash)>> VerifyAsync(string origin, long after, IReadOnlyList<LifecycleEntry> entries, StandardCatalogue catalogue,
        ILogKeys keys, CancellationToken cancellationToken)
    {
        var verified = new List<(LifecycleEntry, byte[])>();
        var (sequence, hash, time) = await LastAsync(origin, cancellationToken);
        entries = await AfterHeldAsync(origin, after, entries, sequence, cancellationToken);
        if (entries.Count == 0)
        {
            return verified;
        }
        var decisions = origin == MirpsAuth.Secretariat;
        var (handedOver, rotatedAway) = await ChainVerifier.HandoversAsync(db, origin, cancellationToken);
        var rotations = await RotationsAsync(origin, cancellationToken);
        var (anchor, lastKey) = await db.LifecycleEntries.AsNoTracking().Where(e => e.Origin == origin).OrderByDescending(e => e.EntrySequence)
            .Select(e => new { e.LogSequence, e.KeyId }).FirstOrDefaultAsync(cancellationToken) is { } previousEntry
            ? (previousEntry.LogSequence, previousEntry.KeyId)
            : (0L, "");
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            var connection = db.Database.GetDbConnection();
            var (held, _, _) = await OriginLog.LinkAsync(connection, null, origin, null, cancellationToken);
            var latest = StoreTime.ToMicros(clock.GetUtcNow()) + (long)ReplicaRules.ClockSkew.TotalMicroseconds;
            foreach (var entry in entries)
            {
                var what = $"{origin}'s lifecycle entry {entry.EntrySequence}";
                // Chain, time, content and anchor order: the rules `mirps regional verify` applies too (LifecycleRules).
                var micros = LifecycleRules.CheckNext(entry, origin, new LifecycleRules.Position(sequence, hash, time, anchor, lastKey), catalogue, latest);
                LifecycleRules.RequireNotRotatedAway(entry, micros, lastKey, rotations);
                LifecycleRules.CheckSigned(entry, origin, keys, handedOver, rotatedAway);
                if (decisions)
                {
                    await NoteDecidedApprovalAsync(entry, cancellationToken);
                    (sequence, hash, time) = (entry.EntrySequence, LifecycleEntrySignature.Hash(entry), micros);
                    lastKey = entry.KeyId;
                    verified.Add((entry, hash));
                    continue;
                }
                if (entry.LogSequence > held)
                {
                    break; // anchored to changes not held here yet: asked for again once they are
                }
                var (_, anchoredTime, link) = await OriginLog.LinkAsync(connection, null, origin, entry.LogSequence, cancellationToken);
                LifecycleRules.CheckAnchored(entry, origin, micros, anchoredTime, link);
                (sequence, hash, time) = (entry.EntrySequence, LifecycleEntrySignature.Hash(entry), micros);
                (anchor, lastKey) = (entry.LogSequence, entry.KeyId);
                verified.Add((entry, hash));
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
        return verified;
    }

    /// <summary>
    /// <paramref name="entries"/> (a page asked for after entry <paramref name="after"/>) without those at its start that this node has
    /// stored since, exactly (same sequence, same entry hash), up to its last entry <paramref name="held"/>: two pulls of one origin's log
    /// (the Secretariat's start-up recovery of its decision log and the decision log's pull, or two peers listing the same origin) may ask
    /// for the same page, and the one that verified second found its page's first entry no longer next (CHAIN_BROKEN, logged, for entries
    /// it did not need; second hostile review, finding 8). An entry held here as another entry, or one at or before <paramref name="after"/>
    /// (not what was asked for: a replay), is not skipped: it is checked as ever, and refused as not following the log held here.
    /// </summary>
    private async Task<IReadOnlyList<LifecycleEntry>> AfterHeldAsync(string origin, long after, IReadOnlyList<LifecycleEntry> entries, long held, CancellationToken cancellationToken)
    {
        if (entries.Count == 0 || entries[0].EntrySequence > held || entries[0].EntrySequence <= after)
        {
            return entries;
        }
        var (first, last) = (entries[0].EntrySequence, Math.Min(held, entries[^1].EntrySequence));
        var hashes = await db.LifecycleEntries.AsNoTracking()
            .Where(e => e.Origin == origin && e.EntrySequence >= first && e.EntrySequence <= last)
            .ToDictionaryAsync(e => e.EntrySequence, e => e.EntryHash, cancellationToken);
        var skip = 0;
        while (skip < entries.Count && hashes.TryGetValue(entries[skip].EntrySequence, out var hash)
            && LifecycleEntrySignature.Hash(entries[skip]).AsSpan().SequenceEqual(hash))
        {
            skip++;
        }
        return skip == 0 ? entries : entries.Skip(skip).ToList();
    }

    /// <summary>
    /// Refuses (CHAIN_BROKEN) a decision whose State's approval entry this node holds as something else than the approval of the
    /// decision's cell with the hash the decision names. A node that does not hold that State's lifecycle log (another State's
    /// cells) stores the decision on the Secretariat's signature alone; one that holds it checks it now.
    /// </summary>
    /// <summary>
    /// A decision whose approval this node holds as another entry (the State forked its lifecycle log, or re-signed it after a
    /// lost disk) is stored all the same, as the Secretariat signed it: the decision log is one chain for every State, and
    /// refusing it here would cut this node off from every later decision (hostile review, finding 2). It decides no cell here
    /// (<see cref="ApprovalCells"/> matches a decision to the approval's sequence and hash), and the mismatch is logged.
    /// </summary>
    private async Task NoteDecidedApprovalAsync(LifecycleEntry decision, CancellationToken cancellationToken)
    {
        var approval = await db.LifecycleEntries.AsNoTracking().Where(e => e.Origin == decision.Country && e.EntrySequence == decision.LogSequence)
            .Select(e => new { e.EntryHash, e.Action, e.GroupId, e.Period }).FirstOrDefaultAsync(cancellationToken);
        if (approval is not null && (approval.Action != LifecycleAction.Approve || approval.GroupId != decision.GroupId || approval.Period != decision.Period
            || !decision.LogHash.Span.SequenceEqual(approval.EntryHash)))
        {
            LogDecisionOnAnotherEntry(logger, decision.EntrySequence, decision.Country, decision.LogSequence, decision.GroupId, decision.Period);
        }
    }

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Warning, Message = "The Secretariat's decision {Decision} is on " +
        "{Country}'s lifecycle entry {Entry} ({Group} {Period}), which this node holds as another entry: {Country}'s lifecycle log may be forked. " +
        "The decision is stored as signed; it decides no cell here")]
    private static partial void LogDecisionOnAnotherEntry(Microsoft.Extensions.Logging.ILogger logger, long decision, string country, long entry, string group, string period);

    /// <summary>The verified rotations of <paramref name="origin"/>'s log held here (their heads are stored only once verified), earliest first.</summary>
    private async Task<List<LifecycleRules.Rotation>> RotationsAsync(string origin, CancellationToken cancellationToken) =>
        (await db.LogHeads.AsNoTracking()
            .Where(h => h.Origin == origin && h.Kind == LogHeadKind.KeyRotation && h.NextPublicKey != null)
            .OrderBy(h => h.Sequence)
            .Select(h => new { h.Sequence, h.KeyId, h.SignedTime, Next = h.NextPublicKey! })
            .ToListAsync(cancellationToken))
            .ConvertAll(h => new LifecycleRules.Rotation(h.Sequence, h.KeyId, h.SignedTime, Mirps.Auth.LogKeys.KeyId(h.Next)));

    /// <summary>Stores verified entries of <paramref name="origin"/> (those not held here meanwhile); returns how many.</summary>
    public async Task<int> ApplyAsync(string origin, List<(LifecycleEntry Entry, byte[] Hash)> verified, CancellationToken cancellationToken)
    {
        if (verified.Count == 0)
        {
            return 0;
        }
        using var held = await gate.EnterAsync(cancellationToken);
        var (last, _, _) = await LastAsync(origin, cancellationToken);
        if (verified[0].Entry.EntrySequence != last + 1)
        {
            return 0; // another pull of the origin wrote them first; the next round starts from there
        }
        var now = StoreTime.ToMicros(clock.GetUtcNow());
        db.LifecycleEntries.AddRange(verified.Select(v => ToRow(v.Entry, v.Hash, now)));
        await db.SaveChangesAsync(cancellationToken);
        if (origin == (options.Value.Country is { Length: > 0 } country ? country : MirpsAuth.Secretariat))
        {
            // Its own entries, taken back from a peer (verified with its key): signed here once, so the mark covers them too.
            signing.HighWater?.SignedEntries(verified[^1].Entry.EntrySequence);
        }
        return verified.Count;
    }

    /// <summary>
    /// The first entry of <paramref name="origin"/> held here after <paramref name="after"/> whose reason this node (<paramref name="self"/>)
    /// may read but holds without its text: taken from a relay that could not pass the text on, or (the Secretariat) recovered from a
    /// State's node. 0 when there is none.
    /// </summary>
    public async Task<long> FirstWithoutReasonAsync(string origin, Sharing.Reader self, long after, CancellationToken cancellationToken)
    {
        var held = db.LifecycleEntries.AsNoTracking().Where(e => e.Origin == origin && e.EntrySequence > after && e.ReasonHash != null && e.Reason == "");
        if (!self.IsSecretariat)
        {
            held = held.Where(e => e.Country == self.Country || e.Country == "" && e.Origin == self.Country);
        }
        return await held.MinAsync(e => (long?)e.EntrySequence, cancellationToken) ?? 0;
    }

    /// <summary>
    /// Fills in the reasons a peer served for entries of <paramref name="origin"/> held here without their text: each only where the
    /// entry served is the one held (its entry hash, which covers the reason hash) and its text and salt match the reason hash the
    /// origin signed, within a reason's content rules. Returns how many were filled in.
    /// </summary>
    public async Task<int> FillReasonsAsync(string origin, IEnumerable<LifecycleEntry> served, CancellationToken cancellationToken)
    {
        var filled = 0;
        using var held = await gate.EnterAsync(cancellationToken);
        // In a transaction, so the store lock's fence checks it (StoreLockFence: a set-based update outside one is not).
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        foreach (var entry in served)
        {
            if (entry.Origin != origin || entry.Reason.Length is 0 or > 1_000 || ObservationValidator.RefusedCharacterAt(entry.Reason) >= 0
                || entry.ReasonHash.IsEmpty || !LifecycleEntrySignature.ReasonMatches(entry))
            {
                continue;
            }
            var hash = LifecycleEntrySignature.Hash(entry);
            var (reason, salt) = (entry.Reason, entry.ReasonSalt.ToByteArray());
            filled += await db.LifecycleEntries.Where(e => e.Origin == origin && e.EntrySequence == entry.EntrySequence && e.Reason == "" && e.EntryHash == hash)
                .ExecuteUpdateAsync(set => set.SetProperty(e => e.Reason, reason).SetProperty(e => e.ReasonSalt, salt), cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return filled;
    }

    /// <summary>Whether this node holds a change of <paramref name="origin"/> as a NOT_HELD placeholder (a draft held back, say): asked for again.</summary>
    public Task<bool> HoldsNotHeldAsync(string origin, CancellationToken cancellationToken) =>
        db.WithheldChanges.AsNoTracking().AnyAsync(w => w.Origin == origin && w.Reason == Withholding.NotHeld, cancellationToken);

    private static LifecycleEntryRow ToRow(LifecycleEntry entry, byte[] hash, long received) => new()
    {
        Origin = entry.Origin,
        EntrySequence = entry.EntrySequence,
        PreviousHash = entry.PreviousHash.IsEmpty ? null : entry.PreviousHash.ToByteArray(),
        Country = entry.Country,
        GroupId = entry.GroupId,
        Period = entry.Period,
        Action = entry.Action,
        LogSequence = entry.LogSequence,
        LogHash = entry.LogHash.IsEmpty ? null : entry.LogHash.ToByteArray(),
        Reason = entry.Reason,
        ReasonHash = entry.ReasonHash.IsEmpty ? null : entry.ReasonHash.ToByteArray(),
        ReasonSalt = entry.ReasonSalt.IsEmpty ? null : entry.ReasonSalt.ToByteArray(),
        Actor = entry.Actor,
        RecordedTime = ChangeHash.Micros(entry.RecordedTime),
        KeyId = entry.KeyId,
        Signature = entry.Signature.ToByteArray(),
        EntryHash = hash,
        ReceivedTime = received,
    };

    public static LifecycleEntry ToMessage(LifecycleEntryRow row) => new()
    {
        Origin = row.Origin,
        EntrySequence = row.EntrySequence,
        PreviousHash = row.PreviousHash is { } previous ? ByteString.CopyFrom(previous) : ByteString.Empty,
        Country = row.Country,
        GroupId = row.GroupId,
        Period = row.Period,
        Action = row.Action,
        LogSequence = row.LogSequence,
        LogHash = row.LogHash is { } log ? ByteString.CopyFrom(log) : ByteString.Empty,
        Reason = row.Reason,
        ReasonHash = row.ReasonHash is { } reasonHash ? ByteString.CopyFrom(reasonHash) : ByteString.Empty,
        ReasonSalt = row.ReasonSalt is { } salt ? ByteString.CopyFrom(salt) : ByteString.Empty,
        Actor = row.Actor,
        RecordedTime = StoreTime.ToTimestamp(row.RecordedTime),
        KeyId = row.KeyId,
        Signature = ByteString.CopyFrom(row.Signature),
    };

    private static PeerRefusedException Refused(string reason, string message) => new(reason, message);
}
