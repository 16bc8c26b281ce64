using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Mirps.Notification.V1;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Node.Notifications;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Secretariat.Regional;

/// <summary>
/// DUE_SOON and OVERDUE webhooks from the reporting calendar (<see cref="ReportingCalendar"/>): a State's group x period with no
/// approval standing (none recorded, or the last one withdrawn) whose due date is at most Webhooks:DueSoonDays ahead, or has passed (judged as timeliness judges it), within
/// Webhooks:LookbackDays. Each fires once per State, group and period (its id says which).
/// </summary>
public sealed class CalendarEvents(ReportingCalendar calendar, StandardCatalogue catalogue, IOptions<WebhookOptions> options, TimeProvider clock) : IWebhookEventSource
{
    public async Task<(List<WebhookEvent> Events, Dictionary<string, long> Cursors)> CollectAsync(NodeDbContext db, IReadOnlyDictionary<string, long> cursors, long? startAt,
        CancellationToken cancellationToken)
    {
        var events = new List<WebhookEvent>();
        var rules = calendar.Rules.ToList();
        if (startAt is not null || rules.Count == 0)
        {
            return (events, []);
        }
        var now = clock.GetUtcNow();
        var micros = StoreTime.ToMicros(now);
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        var (soon, lookback) = (options.Value.DueSoonDays, options.Value.LookbackDays);
        var groups = rules.Select(r => r.GroupId).Distinct().ToList();
        // A cell stands approved while its last lifecycle entry is an approval (as ApprovalCells judges it): one approved,
        // then unapproved, is due (or overdue) again.
        var approved = (await db.LifecycleEntries.AsNoTracking().Where(e => groups.Contains(e.GroupId)).OrderBy(e => e.EntrySequence)
            .Select(e => new { e.Origin, e.GroupId, e.Period, e.Action }).ToListAsync(cancellationToken))
            .GroupBy(e => (e.Origin, e.GroupId, e.Period)).Where(g => g.Last().Action == LifecycleAction.Approve).Select(g => g.Key).ToHashSet();
        foreach (var rule in rules)
        {
            var longest = rule.DueDays + rule.Extensions.Select(e => e.ExtraDays).DefaultIfEmpty(0).Max();
            var first = today.AddDays(-lookback - longest);
            foreach (var period in RegionalRequests.Within(rule.Granularity, first.AddYears(-1), today.AddDays(soon)).Where(p => p.End >= first))
            {
                foreach (var country in catalogue.ReportingCountries.Order(StringComparer.Ordinal))
                {
                    if (calendar.DueDate(country, rule.GroupId, period) is not { } due || approved.Contains((country, rule.GroupId, period.ToString())))
                    {
                        continue;
                    }
                    var (timeliness, _) = ReportingCalendar.Judge(due, null, micros);
                    var type = timeliness == Timeliness.Overdue && due >= today.AddDays(-lookback) ? EventType.Overdue
                        : timeliness == Timeliness.NotDue && due.DayNumber - today.DayNumber <= soon ? EventType.DueSoon
                        : EventType.Unspecified;
                    if (type == EventType.Unspecified)
                    {
                        continue;
                    }
                    events.Add(new WebhookEvent
                    {
                        EventId = $"{country}.{(type == EventType.Overdue ? "overdue" : "due_soon")}.{rule.GroupId}.{period}", Type = type,
                        OccurTime = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(now), Country = country, GroupId = rule.GroupId,
                        Period = period.ToString(), DueDate = due.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
                    });
                }
            }
        }
        return (events, []);
    }
}
