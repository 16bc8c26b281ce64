using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Mirps.Notification.V1;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Node.Approval;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Notifications;

/// <summary>
/// Reads events from the store after its cursors (<see cref="WebhookDeriver"/> stores the events, their deliveries and
/// the cursors' new positions in one transaction). An event's id comes from what caused it, so reading the same rows again
/// (after a kill -9 before the commit, say) finds the same events.
/// </summary>
public interface IWebhookEventSource
{
    /// <summary>
    /// The events after <paramref name="cursors"/> and the cursors' new positions; with <paramref name="startAt"/> (the
    /// cursors are being started, <see cref="WebhookCursors"/>) no events, only the positions of what the store held at that
    /// time (microseconds; <see cref="WebhookCursors.Present"/> for the store's present, at a first subscription), read
    /// cheaply: nobody is told of what happened before they subscribed.
    /// </summary>
    Task<(List<WebhookEvent> Events, Dictionary<string, long> Cursors)> CollectAsync(NodeDbContext db, IReadOnlyDictionary<string, long> cursors, long? startAt,
        CancellationToken cancellationToken);
}

/// <summary>
/// The node's events. A State's node: its own State's approvals and unapprovals (its lifecycle log), changes since
/// approval, and embargoes lifting on its figures; never an event about another State's data it holds as a replica. The
/// Secretariat's node: every State's approvals, unapprovals and changes since approval as they arrive, data received, and
/// its own acceptances and rejections. No event holds a figure.
/// </summary>
public sealed class NodeEventSource(IOptions<NodeOptions> options, IOptions<WebhookOptions> webhooks, StandardCatalogue catalogue, ReceiveStamps stamps,
    TimeProvider clock) : IWebhookEventSource
{
    private const int Page = 500;

    /// <summary>Changes read in one round at most (a round that reaches it is followed by another at once).</summary>
    private const int Slice = 100_000;

    /// <summary>The cursor over the times this node received changes (<see cref="ReceiveStamps.Passed"/>).</summary>
    public const string ReceivedCursor = "received";

    /// <summary>How many changes held the cursor's own received time when it was read (see <see cref="ReceivedAsync"/>).</summary>
    public const string ReceivedAtCursor = "received:rows";

    /// <summary>
    /// After an upgrade from the earlier version's sequence cursors (<see cref="SequencePrefix"/>, <see cref="LatePrefix"/>):
    /// the received time up to which they still tell what was announced (<see cref="ResumeAsync"/>).
    /// </summary>
    public const string UpgradeCursor = "received:upgrade";

    /// <summary>The earlier version's cursor per origin: its changes up to this sequence were announced.</summary>
    public const string SequencePrefix = "changes:";

    /// <summary>The earlier version's cursor per placeholder it passed ("late:PAN:12"): change 12 was not announced, unless its content arrived while it waited.</summary>
    public const string LatePrefix = "late:";

    private string Country => options.Value.Country;

    private IEnumerable<string> Origins => Country.Length > 0 ? [Country] : catalogue.ReportingCountries.Order(StringComparer.Ordinal);

    public async Task<(List<WebhookEvent> Events, Dictionary<string, long> Cursors)> CollectAsync(NodeDbContext db, IReadOnlyDictionary<string, long> cursors,
        long? startAt, CancellationToken cancellationToken)
    {
        var events = new List<WebhookEvent>();
        var moved = new Dictionary<string, long>();
        var start = startAt ?? 0;
        var collect = startAt is null ? events : null;
        foreach (var origin in Origins)
        {
            await LifecycleAsync(db, origin, cursors, moved, collect, start, cancellationToken);
        }
        await ReceivedAsync(db, cursors, moved, collect, start, cancellationToken);
        if (Country.Length == 0)
        {
            await DecisionsAsync(db, cursors, moved, collect, start, cancellationToken);
        }
        else
        {
            await EmbargoesAsync(db, cursors, moved, collect, start, cancellationToken);
        }
        return (events, moved);
    }

    /// <summary>APPROVED, UNAPPROVED; and CHANGED_SINCE_APPROVAL for an approval whose cell already holds a later change (a replica received the change first).</summary>
    private async Task LifecycleAsync(NodeDbContext db, string origin, IReadOnlyDictionary<string, long> cursors, Dictionary<string, long> moved,
        List<WebhookEvent>? events, long startAt, CancellationToken cancellationToken)
    {
        var cursor = $"lifecycle:{origin}";
        var after = cursors.GetValueOrDefault(cursor);
        if (events is null)
        {
            var held = db.LifecycleEntries.Where(e => e.Origin == origin);
            if (startAt != WebhookCursors.Present)
            {
                held = held.Where(e => e.ReceivedTime <= startAt);
            }
            moved[cursor] = await held.MaxAsync(e => (long?)e.EntrySequence, cancellationToken) ?? 0;
            return;
        }
        var entries = await db.LifecycleEntries.AsNoTracking().Where(e => e.Origin == origin && e.EntrySequence > after)
            .OrderBy(e => e.EntrySequence).Take(Page).ToListAsync(cancellationToken);
        foreach (var entry in entries)
        {
            var approve = entry.Action == LifecycleAction.Approve;
            events.Add(new WebhookEvent
            {
                EventId = $"{origin}.lifecycle.{entry.EntrySequence}",
                Type = approve ? EventType.Approved : EventType.Unapproved,
                OccurTime = StoreTime.ToTimestamp(entry.RecordedTime),
                Country = origin, GroupId = entry.GroupId, Period = entry.Period, EntrySequence = entry.EntrySequence,
                Reason = approve ? "" : entry.Reason,
            });
            if (approve && await ChangedAfterAsync(db, origin, entry, cancellationToken) is { } change)
            {
                events.Add(Changed(origin, entry, change.Sequence, change.Time));
            }
            moved[cursor] = entry.EntrySequence;
        }
    }

    /// <summary>
    /// DATA_RECEIVED (the Secretariat's node) and CHANGED_SINCE_APPROVAL: the changes this node stored since the cursor, a
    /// slice of received times (<see cref="ReceiveStamps.Passed"/>: every write in it has ended, and none later lands in it),
    /// by origin, group and period, against each cell's latest lifecycle entry. A change that arrives late (a placeholder
    /// the Secretariat held, a draft held back, an embargoed change, one a relay did not hold, replaced by its content) is
    /// in the slice it arrived in, like any other: each change is read in exactly one round, and nothing is kept per
    /// placeholder.
    /// </summary>
    private async Task ReceivedAsync(NodeDbContext db, IReadOnlyDictionary<string, long> cursors, Dictionary<string, long> moved,
        List<WebhookEvent>? events, long startAt, CancellationToken cancellationToken)
    {
        var upto = stamps.Passed();
        if (events is null)
        {
            // From the start on (a first subscription: from now on): nobody hears of what arrived before they subscribed. Started
            // anew with subscriptions held (the cursors lost, WebhookDeriver): not before what the outbox shows was announced.
            var at = Math.Max(Math.Min(upto, startAt), 0);
            await StartReceivedAsync(db, moved, startAt == WebhookCursors.Present ? at : await NotBeforeAnnouncedAsync(db, at, upto, cancellationToken), cancellationToken);
            return;
        }
        if (!cursors.TryGetValue(ReceivedCursor, out var after))
        {
            await ResumeAsync(db, cursors, moved, Math.Max(upto, 0), cancellationToken);
            return;
        }
        // A write while the node's clock is behind its latest stamp (a clock set back) is stamped with that same time again:
        // the cursor's own time is read again when it holds more changes than were read (a seek and a count of one write's).
        var atAfter = await db.Observations.LongCountAsync(o => o.ReceivedTime == after, cancellationToken);
        var again = atAfter != cursors.GetValueOrDefault(ReceivedAtCursor);
        var from = again ? after - 1 : after;
        // After an upgrade, up to its time: what the earlier version's cursors had announced is left out (ResumeAsync).
        var upgrading = cursors.TryGetValue(UpgradeCursor, out var upgrade) && from < upgrade;
        if (!upgrading)
        {
            // The earlier version's cursors, once the received times passed what they told (or left by a version that did not remove them).
            foreach (var old in cursors.Keys.Where(k => k == UpgradeCursor || IsSequenceCursor(k)))
            {
                moved[old] = -1;
            }
        }
        if (upto <= after && !again)
        {
            return;
        }
        upto = Math.Max(upto, after);
        // At most a slice's changes (and the rest of the write at its end: one write's changes share their stamp).
        var cap = await db.Observations.Where(o => o.ReceivedTime > from).OrderBy(o => o.ReceivedTime).Select(o => (long?)o.ReceivedTime)
            .Skip(Slice).FirstOrDefaultAsync(cancellationToken);
        if (cap is { } capped && capped < upto)
        {
            upto = capped;
        }
        var received = db.Observations.AsNoTracking().Where(o => o.ReceivedTime > from && o.ReceivedTime <= upto);
        if (Country.Length > 0)
        {
            var own = Country; // a State's node tells of its own figures only
            received = received.Where(o => o.Origin == own);
        }
        var cells = new List<ReceivedCell>();
        foreach (var origin in upgrading ? Origins : [""])
        {
            var (sequence, late) = Announced(cursors, origin);
            cells.AddRange(await (upgrading ? received.Where(o => o.Origin == origin && (o.ReceivedTime > upgrade || o.OriginSequence > sequence || late.Contains(o.OriginSequence))) : received)
                .GroupBy(o => new { o.Origin, o.IndicatorCode, o.Period })
                .Select(g => new ReceivedCell
                {
                    Origin = g.Key.Origin, IndicatorCode = g.Key.IndicatorCode, Period = g.Key.Period, First = g.Min(o => o.OriginSequence),
                    Last = g.Max(o => o.OriginSequence), Time = g.Max(o => o.RecordedTime), Rows = g.LongCount(),
                })
                .ToListAsync(cancellationToken));
        }
        if (cells.Count == 0 && !upgrading)
        {
            if (again)
            {
                moved[ReceivedAtCursor] = atAfter; // fewer than read (a copy of the log dropped): nothing to tell
            }
            return; // nothing arrived: the cursor stays (reading the same empty slice again is a seek)
        }
        foreach (var byOrigin in cells.GroupBy(c => c.Origin).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var origin = byOrigin.Key;
            if (Country.Length == 0)
            {
                var (lowest, highest) = (byOrigin.Min(c => c.First), byOrigin.Max(c => c.Last));
                events.Add(new WebhookEvent
                {
                    // The range and how many changes in it: a round that reads a time again (above) names the changes added to it.
                    EventId = $"{origin}.received.{lowest}-{highest}.{byOrigin.Sum(c => c.Rows)}", Type = EventType.DataReceived,
                    OccurTime = StoreTime.ToTimestamp(byOrigin.Max(c => c.Time)), Country = origin, FromSequence = lowest, ToSequence = highest,
                });
            }
            foreach (var cell in byOrigin.GroupBy(c => (Group: ApprovalCells.GroupOf(catalogue, c.IndicatorCode), c.Period)).Where(g => g.Key.Group.Length > 0))
            {
                var latest = await db.LifecycleEntries.AsNoTracking()
                    .Where(e => e.Origin == origin && e.GroupId == cell.Key.Group && e.Period == cell.Key.Period)
                    .OrderByDescending(e => e.EntrySequence).FirstOrDefaultAsync(cancellationToken);
                if (latest is not { Action: LifecycleAction.Approve } || cell.Max(c => c.Last) <= latest.LogSequence)
                {
                    continue;
                }
                // The first change after the approval: this slice's first, unless the slice also holds one from before it (arrived late).
                var first = cell.Min(c => c.First);
                if (first <= latest.LogSequence)
                {
                    first = (await ChangedAfterAsync(db, origin, latest, cancellationToken))?.Sequence ?? first;
                }
                events.Add(Changed(origin, latest, first, cell.Max(c => c.Time)));
            }
        }
        moved[ReceivedCursor] = upto;
        moved[ReceivedAtCursor] = upto == after ? atAfter : await db.Observations.LongCountAsync(o => o.ReceivedTime == upto, cancellationToken);
    }

    /// <summary>What one slice holds of one origin's indicator and period.</summary>
    private sealed class ReceivedCell
    {
        public required string Origin { get; init; }
        public required string IndicatorCode { get; init; }
        public required string Period { get; init; }
        public long First { get; init; }
        public long Last { get; init; }
        public long Time { get; init; }
        public long Rows { get; init; }
    }

    /// <summary>
    /// Subscriptions, but no received-time cursor. After an upgrade from the earlier version's sequence cursors (one per
    /// origin, <see cref="SequencePrefix"/>, and one per placeholder it passed, <see cref="LatePrefix"/>): from just before the
    /// oldest change they had not announced, received up to now; they are kept, with <see cref="UpgradeCursor"/> at now, so
    /// the slices up to now leave out what they had announced. Nothing received after the old cursor is lost, and nothing is
    /// announced twice. With no cursor to tell (the store's cursors lost): from the oldest subscription's creation, at most
    /// Webhooks:Retention back (<see cref="WebhookCursors.ResumeTimeAsync"/>), but not before what the outbox shows announced
    /// (<see cref="NotBeforeAnnouncedAsync"/>).
    /// </summary>
    private async Task ResumeAsync(NodeDbContext db, IReadOnlyDictionary<string, long> cursors, Dictionary<string, long> moved, long upto,
        CancellationToken cancellationToken)
    {
        if (!cursors.Keys.Any(IsSequenceCursor))
        {
            var at = Math.Clamp(await WebhookCursors.ResumeTimeAsync(db, webhooks.Value, clock, cancellationToken), 0, upto);
            await StartReceivedAsync(db, moved, await NotBeforeAnnouncedAsync(db, at, upto, cancellationToken), cancellationToken);
            return;
        }
        long? oldest = null;
        foreach (var origin in Origins)
        {
            var (sequence, late) = Announced(cursors, origin);
            var first = await db.Observations
                .Where(o => o.Origin == origin && o.ReceivedTime <= upto && (o.OriginSequence > sequence || late.Contains(o.OriginSequence)))
                .MinAsync(o => (long?)o.ReceivedTime, cancellationToken);
            if (first < (oldest ?? long.MaxValue))
            {
                oldest = first;
            }
        }
        moved[UpgradeCursor] = upto;
        await StartReceivedAsync(db, moved, Math.Clamp(oldest - 1 ?? upto, 0, upto), cancellationToken);
    }

    /// <summary>The received-time cursor at <paramref name="at"/>, with the changes stamped at that time (read).</summary>
    private static async Task StartReceivedAsync(NodeDbContext db, Dictionary<string, long> moved, long at, CancellationToken cancellationToken)
    {
        moved[ReceivedCursor] = at;
        moved[ReceivedAtCursor] = await db.Observations.LongCountAsync(o => o.ReceivedTime == at, cancellationToken);
    }

    /// <summary>
    /// Where a received-time cursor resumes that cannot tell what was announced (lost): <paramref name="at"/>, or later, up to
    /// <paramref name="upto"/>, where the outbox shows <c>DATA_RECEIVED</c> announced everything received before
    /// (<see cref="AnnouncedThroughAsync"/>): those changes are not announced again in other ranges, under other ids.
    /// </summary>
    private async Task<long> NotBeforeAnnouncedAsync(NodeDbContext db, long at, long upto, CancellationToken cancellationToken) =>
        Country.Length == 0 && await AnnouncedThroughAsync(db, cancellationToken) is { } announced ? Math.Clamp(announced, at, Math.Max(at, upto)) : at;

    /// <summary>
    /// The received time up to which the outbox shows every change announced: the latest a change named by the last round's
    /// <c>DATA_RECEIVED</c> events was received by the time that round was derived (a round reads every change received up to
    /// its end, whatever its origin, and its events name them all: nothing received at or before that time was left for a
    /// later round). Null when the outbox holds no such event (none yet, or pruned after Webhooks:Retention).
    /// </summary>
    private static async Task<long?> AnnouncedThroughAsync(NodeDbContext db, CancellationToken cancellationToken)
    {
        var type = (int)EventType.DataReceived;
        var derived = await db.WebhookEvents.Where(e => e.Type == type).OrderByDescending(e => e.Id).Select(e => (long?)e.OccurTime).FirstOrDefaultAsync(cancellationToken);
        if (derived is not { } time)
        {
            return null;
        }
        long? through = null;
        foreach (var key in await db.WebhookEvents.Where(e => e.Type == type && e.OccurTime == time).Select(e => e.EventKey).ToListAsync(cancellationToken))
        {
            if (ReceivedRange(key) is not var (origin, from, to))
            {
                continue;
            }
            var received = await db.Observations.Where(o => o.Origin == origin && o.OriginSequence >= from && o.OriginSequence <= to && o.ReceivedTime <= time)
                .MaxAsync(o => (long?)o.ReceivedTime, cancellationToken);
            if (received > (through ?? long.MinValue))
            {
                through = received;
            }
        }
        return through;
    }

    /// <summary>The origin and range a <c>DATA_RECEIVED</c> event's id names ("PAN.received.3-5.3"), or null.</summary>
    private static (string Origin, long From, long To)? ReceivedRange(string eventId)
    {
        var parts = eventId.Split('.');
        if (parts.Length != 4 || parts[1] != "received" || parts[2].Split('-') is not [var from, var to]
            || !long.TryParse(from, System.Globalization.CultureInfo.InvariantCulture, out var lowest) || !long.TryParse(to, System.Globalization.CultureInfo.InvariantCulture, out var highest))
        {
            return null;
        }
        return (parts[0], lowest, highest);
    }

    private static bool IsSequenceCursor(string key) => key.StartsWith(SequencePrefix, StringComparison.Ordinal) || key.StartsWith(LatePrefix, StringComparison.Ordinal);

    /// <summary>What the earlier version's cursors say was announced of <paramref name="origin"/>: up to a sequence, but for the placeholders passed.</summary>
    private static (long Sequence, List<long> Late) Announced(IReadOnlyDictionary<string, long> cursors, string origin) =>
        (cursors.GetValueOrDefault(SequencePrefix + origin), [.. cursors.Where(c => c.Key.StartsWith($"{LatePrefix}{origin}:", StringComparison.Ordinal)).Select(c => c.Value)]);

    /// <summary>The first change of <paramref name="entry"/>'s cell after it, while it is the cell's latest entry; or null.</summary>
    private async Task<(long Sequence, long Time)?> ChangedAfterAsync(NodeDbContext db, string origin, LifecycleEntryRow entry, CancellationToken cancellationToken)
    {
        if (await db.LifecycleEntries.AnyAsync(e => e.Origin == origin && e.GroupId == entry.GroupId && e.Period == entry.Period && e.EntrySequence > entry.EntrySequence,
            cancellationToken))
        {
            return null;
        }
        var indicators = ApprovalCells.Indicators(catalogue, entry.GroupId);
        var change = await db.Observations.AsNoTracking()
            .Where(o => o.Origin == origin && o.OriginSequence > entry.LogSequence && o.Period == entry.Period && indicators.Contains(o.IndicatorCode))
            .OrderBy(o => o.OriginSequence).Select(o => new { o.OriginSequence, o.RecordedTime }).FirstOrDefaultAsync(cancellationToken);
        return change is null ? null : (change.OriginSequence, change.RecordedTime);
    }

    private static WebhookEvent Changed(string origin, LifecycleEntryRow approval, long firstChange, long time) => new()
    {
        // One per approval: further changes before the next approval are the same news.
        EventId = $"{origin}.changed.{approval.EntrySequence}", Type = EventType.ChangedSinceApproval,
        OccurTime = StoreTime.ToTimestamp(time), Country = origin, GroupId = approval.GroupId, Period = approval.Period,
        EntrySequence = approval.EntrySequence, FromSequence = firstChange,
    };

    /// <summary>ACCEPTED, REJECTED: the Secretariat's decisions, its signed decision log (origin "secretariat") on its node.</summary>
    private static async Task DecisionsAsync(NodeDbContext db, IReadOnlyDictionary<string, long> cursors, Dictionary<string, long> moved,
        List<WebhookEvent>? events, long startAt, CancellationToken cancellationToken)
    {
        const string cursor = "acceptances";
        var after = cursors.GetValueOrDefault(cursor);
        var secretariat = Mirps.Auth.MirpsAuth.Secretariat;
        var decisions = db.LifecycleEntries.AsNoTracking().Where(e => e.Origin == secretariat);
        if (events is null)
        {
            moved[cursor] = await decisions.Where(a => a.ReceivedTime <= startAt).MaxAsync(a => (long?)a.EntrySequence, cancellationToken) ?? 0;
            return;
        }
        foreach (var decision in await decisions.Where(a => a.EntrySequence > after).OrderBy(a => a.EntrySequence).Take(Page).ToListAsync(cancellationToken))
        {
            events.Add(new WebhookEvent
            {
                // The decision's sequence in the Secretariat's log (its id in the unsigned table before, in the same order).
                EventId = $"{decision.Country}.decision.{decision.EntrySequence}", Type = decision.Action == LifecycleAction.Accept ? EventType.Accepted : EventType.Rejected,
                OccurTime = StoreTime.ToTimestamp(decision.RecordedTime), Country = decision.Country, GroupId = decision.GroupId, Period = decision.Period,
                EntrySequence = decision.LogSequence, Reason = decision.Reason,
            });
            moved[cursor] = decision.EntrySequence;
        }
    }

    /// <summary>EMBARGO_LIFTED: the State's own figures whose release time passed since the cursor (a time), by indicator and period.</summary>
    private async Task EmbargoesAsync(NodeDbContext db, IReadOnlyDictionary<string, long> cursors, Dictionary<string, long> moved,
        List<WebhookEvent>? events, long startAt, CancellationToken cancellationToken)
    {
        const string cursor = "embargo";
        var now = StoreTime.ToMicros(clock.GetUtcNow());
        if (events is null)
        {
            if (!cursors.ContainsKey(cursor))
            {
                moved[cursor] = Math.Min(now, startAt); // written once, not every round while nobody subscribes
            }
            return;
        }
        // Releases from the first subscription on: nobody hears of embargoes lifted before anyone subscribed.
        var since = await db.WebhookSubscriptions.MinAsync(s => (long?)s.CreatedTime, cancellationToken) ?? now;
        var after = Math.Max(cursors.GetValueOrDefault(cursor), since);
        var origin = Country;
        var lifted = await db.Observations.AsNoTracking()
            .Where(o => o.Origin == origin && o.ReleaseTime > after && o.ReleaseTime <= now)
            .GroupBy(o => new { o.IndicatorCode, o.Period, o.ReleaseTime })
            .Select(g => g.Key).OrderBy(k => k.ReleaseTime).Take(Page).ToListAsync(cancellationToken);
        foreach (var release in lifted)
        {
            events.Add(new WebhookEvent
            {
                EventId = $"{origin}.embargo.{release.IndicatorCode}.{release.Period}.{release.ReleaseTime}", Type = EventType.EmbargoLifted,
                OccurTime = StoreTime.ToTimestamp(release.ReleaseTime!.Value), Country = origin, IndicatorCode = release.IndicatorCode, Period = release.Period,
            });
        }
        moved[cursor] = lifted.Count == Page ? lifted[^1].ReleaseTime!.Value - 1 : now;
    }
}
