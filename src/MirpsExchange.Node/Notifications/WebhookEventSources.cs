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
    /// The events after <paramref name="cursors"/> and the cursors' new positions; with <paramref name="skip"/> (no
    /// subscription) only the new positions, read cheaply: nobody is told of what happened before they subscribed.
    /// </summary>
    Task<(List<WebhookEvent> Events, Dictionary<string, long> Cursors)> CollectAsync(NodeDbContext db, IReadOnlyDictionary<string, long> cursors, bool skip,
        CancellationToken cancellationToken);
}

/// <summary>
/// The node's events. A State's node: its own State's approvals and unapprovals (its lifecycle log), changes since
/// approval, and embargoes lifting on its figures; never an event about another State's data it holds as a replica. The
/// Secretariat's node: every State's approvals, unapprovals and changes since approval as they arrive, data received, and
/// its own acceptances and rejections. No event holds a figure.
/// </summary>
public sealed class NodeEventSource(IOptions<NodeOptions> options, StandardCatalogue catalogue, TimeProvider clock) : IWebhookEventSource
{
    private const int Page = 500;
    private const long ChangeWindow = 100_000;

    private string Country => options.Value.Country;

    private IEnumerable<string> Origins => Country.Length > 0 ? [Country] : catalogue.ReportingCountries.Order(StringComparer.Ordinal);

    public async Task<(List<WebhookEvent> Events, Dictionary<string, long> Cursors)> CollectAsync(NodeDbContext db, IReadOnlyDictionary<string, long> cursors,
        bool skip, CancellationToken cancellationToken)
    {
        var events = new List<WebhookEvent>();
        var moved = new Dictionary<string, long>();
        foreach (var origin in Origins)
        {
            await LifecycleAsync(db, origin, cursors, moved, skip ? null : events, cancellationToken);
            if (Country.Length == 0)
            {
                await LateChangesAsync(db, origin, cursors, moved, skip ? null : events, cancellationToken);
            }
            await ChangesAsync(db, origin, cursors, moved, skip ? null : events, cancellationToken);
        }
        if (Country.Length == 0)
        {
            await DecisionsAsync(db, cursors, moved, skip ? null : events, cancellationToken);
        }
        else
        {
            await EmbargoesAsync(db, cursors, moved, skip ? null : events, cancellationToken);
        }
        return (events, moved);
    }

    /// <summary>APPROVED, UNAPPROVED; and CHANGED_SINCE_APPROVAL for an approval whose cell already holds a later change (a replica received the change first).</summary>
    private async Task LifecycleAsync(NodeDbContext db, string origin, IReadOnlyDictionary<string, long> cursors, Dictionary<string, long> moved,
        List<WebhookEvent>? events, CancellationToken cancellationToken)
    {
        var cursor = $"lifecycle:{origin}";
        var after = cursors.GetValueOrDefault(cursor);
        if (events is null)
        {
            moved[cursor] = await db.LifecycleEntries.Where(e => e.Origin == origin).MaxAsync(e => (long?)e.EntrySequence, cancellationToken) ?? 0;
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
    /// DATA_RECEIVED (the Secretariat's node) and CHANGED_SINCE_APPROVAL: the changes of <paramref name="origin"/> after the
    /// cursor, by group and period, against each cell's latest lifecycle entry.
    /// </summary>
    private async Task ChangesAsync(NodeDbContext db, string origin, IReadOnlyDictionary<string, long> cursors, Dictionary<string, long> moved,
        List<WebhookEvent>? events, CancellationToken cancellationToken)
    {
        var cursor = $"changes:{origin}";
        var after = cursors.GetValueOrDefault(cursor);
        var last = await db.Observations.Where(o => o.Origin == origin).MaxAsync(o => (long?)o.OriginSequence, cancellationToken) ?? 0;
        if (last <= after || events is null)
        {
            moved[cursor] = Math.Max(last, after);
            return;
        }
        var upto = Math.Min(last, after + ChangeWindow);
        if (Country.Length == 0)
        {
            // The window's placeholders (a draft held back, an embargoed change): their content may arrive after the cursor
            // moved on. Read before the window's changes, so one replaced meanwhile is announced here, or later, not lost.
            foreach (var sequence in await db.WithheldChanges.AsNoTracking().Where(w => w.Origin == origin && w.OriginSequence > after && w.OriginSequence <= upto)
                .Select(w => w.OriginSequence).ToListAsync(cancellationToken))
            {
                moved[LateKey(origin, sequence)] = sequence;
            }
        }
        var cells = await db.Observations.AsNoTracking()
            .Where(o => o.Origin == origin && o.OriginSequence > after && o.OriginSequence <= upto)
            .GroupBy(o => new { o.IndicatorCode, o.Period })
            .Select(g => new { g.Key.IndicatorCode, g.Key.Period, First = g.Min(o => o.OriginSequence), Time = g.Max(o => o.RecordedTime) })
            .ToListAsync(cancellationToken);
        if (cells.Count == 0)
        {
            moved[cursor] = upto;
            return;
        }
        if (Country.Length == 0)
        {
            var from = cells.Min(c => c.First);
            events.Add(new WebhookEvent
            {
                EventId = $"{origin}.received.{from}-{upto}", Type = EventType.DataReceived,
                OccurTime = StoreTime.ToTimestamp(cells.Max(c => c.Time)), Country = origin, FromSequence = from, ToSequence = upto,
            });
        }
        foreach (var cell in cells.GroupBy(c => (Group: ApprovalCells.GroupOf(catalogue, c.IndicatorCode), c.Period)).Where(g => g.Key.Group.Length > 0))
        {
            var latest = await db.LifecycleEntries.AsNoTracking()
                .Where(e => e.Origin == origin && e.GroupId == cell.Key.Group && e.Period == cell.Key.Period)
                .OrderByDescending(e => e.EntrySequence).FirstOrDefaultAsync(cancellationToken);
            var first = cell.Min(c => c.First);
            if (latest is { Action: LifecycleAction.Approve } && latest.LogSequence < first)
            {
                events.Add(Changed(origin, latest, first, cell.Max(c => c.Time)));
            }
        }
        moved[cursor] = upto;
    }

    private static string LatePrefix(string origin) => $"late:{origin}:";

    private static string LateKey(string origin, long sequence) => LatePrefix(origin) + sequence.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// DATA_RECEIVED (the Secretariat's node) for changes that arrive after the cursor passed them: each placeholder the
    /// cursor passed is a cursor of its own (<see cref="LateKey"/>) until its content is here (one event for those that
    /// arrived since the last round) or its placeholder is gone without it; then its cursor is removed (a position below 0,
    /// <see cref="WebhookDeriver"/>).
    /// </summary>
    private static async Task LateChangesAsync(NodeDbContext db, string origin, IReadOnlyDictionary<string, long> cursors, Dictionary<string, long> moved,
        List<WebhookEvent>? events, CancellationToken cancellationToken)
    {
        var prefix = LatePrefix(origin);
        var waiting = cursors.Where(c => c.Key.StartsWith(prefix, StringComparison.Ordinal) && c.Value > 0).Select(c => c.Value).Order().Take(Page).ToList();
        if (waiting.Count == 0)
        {
            return;
        }
        var arrived = await db.Observations.AsNoTracking().Where(o => o.Origin == origin && waiting.Contains(o.OriginSequence))
            .Select(o => new { o.OriginSequence, o.RecordedTime }).ToListAsync(cancellationToken);
        var still = (await db.WithheldChanges.AsNoTracking().Where(w => w.Origin == origin && waiting.Contains(w.OriginSequence))
            .Select(w => w.OriginSequence).ToListAsync(cancellationToken)).ToHashSet();
        if (arrived.Count > 0 && events is not null)
        {
            var (from, to) = (arrived.Min(a => a.OriginSequence), arrived.Max(a => a.OriginSequence));
            events.Add(new WebhookEvent
            {
                EventId = $"{origin}.received-late.{from}-{to}.{arrived.Count}", Type = EventType.DataReceived,
                OccurTime = StoreTime.ToTimestamp(arrived.Max(a => a.RecordedTime)), Country = origin, FromSequence = from, ToSequence = to,
            });
        }
        var done = arrived.Select(a => a.OriginSequence).ToHashSet();
        foreach (var sequence in waiting.Where(w => done.Contains(w) || !still.Contains(w)))
        {
            moved[LateKey(origin, sequence)] = -1;
        }
    }

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

    /// <summary>ACCEPTED, REJECTED: the Secretariat's decisions, recorded on its node.</summary>
    private static async Task DecisionsAsync(NodeDbContext db, IReadOnlyDictionary<string, long> cursors, Dictionary<string, long> moved,
        List<WebhookEvent>? events, CancellationToken cancellationToken)
    {
        const string cursor = "acceptances";
        var after = cursors.GetValueOrDefault(cursor);
        if (events is null)
        {
            moved[cursor] = await db.Acceptances.MaxAsync(a => (long?)a.Id, cancellationToken) ?? 0;
            return;
        }
        foreach (var decision in await db.Acceptances.AsNoTracking().Where(a => a.Id > after).OrderBy(a => a.Id).Take(Page).ToListAsync(cancellationToken))
        {
            events.Add(new WebhookEvent
            {
                EventId = $"{decision.Country}.decision.{decision.Id}", Type = decision.Accepted ? EventType.Accepted : EventType.Rejected,
                OccurTime = StoreTime.ToTimestamp(decision.RecordedTime), Country = decision.Country, GroupId = decision.GroupId, Period = decision.Period,
                EntrySequence = decision.EntrySequence, Reason = decision.Reason,
            });
            moved[cursor] = decision.Id;
        }
    }

    /// <summary>EMBARGO_LIFTED: the State's own figures whose release time passed since the cursor (a time), by indicator and period.</summary>
    private async Task EmbargoesAsync(NodeDbContext db, IReadOnlyDictionary<string, long> cursors, Dictionary<string, long> moved,
        List<WebhookEvent>? events, CancellationToken cancellationToken)
    {
        const string cursor = "embargo";
        var now = StoreTime.ToMicros(clock.GetUtcNow());
        if (events is null)
        {
            if (!cursors.ContainsKey(cursor))
            {
                moved[cursor] = now; // written once, not every round while nobody subscribes
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
