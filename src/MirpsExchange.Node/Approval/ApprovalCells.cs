using Microsoft.EntityFrameworkCore;
using Mirps.Approval.V1;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Approval;

/// <summary>
/// The cells of the reporting cycle, State x indicator group x period (protos/README.md, "Approval"): what a request
/// names, checked against the catalogue, and where each stands, read from the lifecycle log and the Secretariat's
/// acceptances held here.
/// </summary>
public static class ApprovalCells
{
    /// <summary>Groups x periods one call may name.</summary>
    public const int MaxCells = 1_000;

    /// <summary>Keys listed per cell changed since its approval.</summary>
    public const int MaxChangedKeys = 100;

    /// <summary>
    /// Every group x period named, once each, in the order named; <paramref name="violations"/> gets one per unknown group,
    /// period that is not one, or period not started on <paramref name="today"/>.
    /// </summary>
    public static List<(string Group, string Period)> Parse(StandardCatalogue catalogue, IList<string> groups, IList<string> periods, DateOnly today,
        List<(string Field, string Description)> violations, bool required = true)
    {
        var known = catalogue.Catalog.IndicatorGroups.Select(g => g.Id).ToList();
        if (required && groups.Count == 0)
        {
            violations.Add(("group_ids", $"name at least one indicator group ({string.Join(", ", known)})"));
        }
        for (var i = 0; i < groups.Count; i++)
        {
            if (!known.Contains(groups[i]))
            {
                violations.Add(($"group_ids[{i}]", $"'{groups[i]}' is not an indicator group of catalogue {catalogue.Version} ({string.Join(", ", known)})"));
            }
        }
        if (required && periods.Count == 0)
        {
            violations.Add(("periods", $"name at least one period: {Period.Format}"));
        }
        for (var i = 0; i < periods.Count; i++)
        {
            if (!Period.TryParse(periods[i], out var period) || period.ToString() != periods[i])
            {
                violations.Add(($"periods[{i}]", $"'{periods[i]}' is not a period: {Period.Format}"));
            }
            else if (period.Start > today)
            {
                violations.Add(($"periods[{i}]", $"period {periods[i]} has not started yet (it starts on {period.Start:yyyy-MM-dd}): nothing to approve"));
            }
        }
        if ((long)groups.Count * periods.Count > MaxCells)
        {
            violations.Add(("periods", $"{groups.Count} groups x {periods.Count} periods are {groups.Count * periods.Count} cells; at most {MaxCells:N0} per call"));
        }
        return [.. groups.Distinct().SelectMany(g => periods.Distinct().Select(p => (g, p)))];
    }

    /// <summary>
    /// Where each State's figures of <paramref name="cells"/> stand as known at <paramref name="asOfMicros"/> (null: now), by
    /// State, group and period: the Secretariat's regional answers.
    /// </summary>
    public static async Task<Dictionary<(string Country, string Group, string Period), ApprovalState>> StatesAsync(NodeDbContext db, StandardCatalogue catalogue,
        IEnumerable<string> countries, IReadOnlyCollection<(string Group, string Period)> cells, long? asOfMicros, CancellationToken cancellationToken) =>
        (await CellsAsync(db, catalogue, countries, cells, asOfMicros, cancellationToken)).ToDictionary(c => c.Key, c => c.Value.State);

    /// <summary>
    /// <see cref="StatesAsync"/> with each cell whole: its state and the lifecycle entry it rests on (<see cref="ApprovalCell.EntrySequence"/>),
    /// which a regional figure filtered by the reporting cycle names so that it can be verified.
    /// </summary>
    public static async Task<Dictionary<(string Country, string Group, string Period), ApprovalCell>> CellsAsync(NodeDbContext db, StandardCatalogue catalogue,
        IEnumerable<string> countries, IReadOnlyCollection<(string Group, string Period)> cells, long? asOfMicros, CancellationToken cancellationToken)
    {
        var states = new Dictionary<(string, string, string), ApprovalCell>();
        foreach (var country in countries)
        {
            foreach (var cell in await StatusAsync(db, catalogue, country, cells, [], [], false, cancellationToken, asOfMicros))
            {
                states[(country, cell.GroupId, cell.Period)] = cell;
            }
        }
        return states;
    }

    /// <summary>
    /// The last entry of each of <paramref name="countries"/>' lifecycle logs received by <paramref name="asOfMicros"/>: its sequence and hash
    /// (a State with none is absent), in the order given, then the last entry of the Secretariat's decision log recorded by then (origin
    /// "secretariat", when it holds one): what a figure filtered by the reporting cycle read of each log. The decision log's head is cut as
    /// <see cref="StatusAsync"/> reads decisions, by their signed recorded time, which never goes back along the chain: the decisions read
    /// are exactly the log up to that head, so `mirps regional verify` takes them from the signed log, not from the export's word.
    /// </summary>
    public static async Task<List<(string Origin, long EntrySequence, byte[] EntryHash)>> LifecycleHeadsAsync(NodeDbContext db, IEnumerable<string> countries,
        long asOfMicros, CancellationToken cancellationToken)
    {
        var heads = new List<(string, long, byte[])>();
        var secretariat = Mirps.Auth.MirpsAuth.Secretariat;
        foreach (var country in countries.Append(secretariat))
        {
            var entries = db.LifecycleEntries.AsNoTracking().Where(e => e.Origin == country);
            entries = country == secretariat ? entries.Where(e => e.RecordedTime <= asOfMicros) : entries.Where(e => e.ReceivedTime <= asOfMicros);
            if (await entries.OrderByDescending(e => e.EntrySequence).Select(e => new { e.EntrySequence, e.EntryHash }).FirstOrDefaultAsync(cancellationToken) is { } last)
            {
                heads.Add((country, last.EntrySequence, last.EntryHash));
            }
        }
        return heads;
    }

    /// <summary>The group of <paramref name="indicatorCode"/> ("" for none, catalogue 1.0).</summary>
    public static string GroupOf(StandardCatalogue catalogue, string indicatorCode) => catalogue.FindIndicator(indicatorCode)?.Indicator.GroupId ?? "";

    /// <summary>The codes of the indicators of <paramref name="group"/>.</summary>
    public static List<string> Indicators(StandardCatalogue catalogue, string group) =>
        [.. catalogue.Catalog.Indicators.Where(i => i.GroupId == group).Select(i => i.Code)];

    /// <summary>
    /// Where <paramref name="country"/>'s cells stand: those named in <paramref name="cells"/>, or (null) every cell with a
    /// lifecycle entry held here, narrowed to <paramref name="groups"/> and <paramref name="periods"/> when they name any.
    /// With <paramref name="withKeys"/>, a cell changed since its approval lists the keys changed. With <paramref name="seenBy"/>,
    /// only the changes that reader may see count (<see cref="CellReader"/>): another State, or the Secretariat, polling the
    /// status learns nothing of a revision under embargo, a draft held back or an indicator not shared with it.
    /// </summary>
    public static async Task<List<ApprovalCell>> StatusAsync(NodeDbContext db, StandardCatalogue catalogue, string country,
        IReadOnlyCollection<(string Group, string Period)>? cells, IList<string> groups, IList<string> periods, bool withKeys, CancellationToken cancellationToken,
        long? asOfMicros = null, CellReader? seenBy = null)
    {
        var asOf = asOfMicros ?? long.MaxValue; // what this node had received (and decided) by then
        var entries = db.LifecycleEntries.AsNoTracking().Where(e => e.Origin == country && e.ReceivedTime <= asOf);
        // The Secretariat's decisions: its signed decision log, held by its node and by every node that pulls it (origin "secretariat").
        var secretariat = Mirps.Auth.MirpsAuth.Secretariat;
        var acceptances = db.LifecycleEntries.AsNoTracking().Where(a => a.Origin == secretariat && a.Country == country && a.RecordedTime <= asOf);
        if (groups.Count > 0)
        {
            entries = entries.Where(e => groups.Contains(e.GroupId));
            acceptances = acceptances.Where(a => groups.Contains(a.GroupId));
        }
        if (periods.Count > 0)
        {
            entries = entries.Where(e => periods.Contains(e.Period));
            acceptances = acceptances.Where(a => periods.Contains(a.Period));
        }
        // The last entry of each cell decides (an origin's log holds a few per cell and period).
        var latest = (await entries.OrderBy(e => e.EntrySequence).ToListAsync(cancellationToken))
            .GroupBy(e => (e.GroupId, e.Period)).ToDictionary(g => g.Key, g => g.Last());
        var decisions = (await acceptances.OrderBy(a => a.EntrySequence).ToListAsync(cancellationToken))
            .GroupBy(a => (a.GroupId, a.Period)).ToDictionary(g => g.Key, g => g.Last());
        var answer = new List<ApprovalCell>();
        foreach (var (group, period) in cells ?? [.. latest.Keys.OrderBy(k => k.GroupId, StringComparer.Ordinal).ThenBy(k => k.Period, StringComparer.Ordinal)])
        {
            var cell = new ApprovalCell { Country = country, GroupId = group, Period = period, State = ApprovalState.Draft };
            answer.Add(cell);
            if (!latest.TryGetValue((group, period), out var entry))
            {
                continue;
            }
            cell.EntrySequence = entry.EntrySequence;
            cell.ApproveTime = StoreTime.ToTimestamp(entry.RecordedTime);
            cell.ApprovedBy = entry.Actor;
            cell.LogSequence = entry.LogSequence;
            cell.Reason = entry.Reason;
            if (entry.Action != LifecycleAction.Approve)
            {
                continue; // unapproved: a draft again
            }
            cell.State = ApprovalState.Approved;
            var indicators = Indicators(catalogue, group);
            var changed = db.Observations.AsNoTracking()
                .Where(o => o.Origin == country && o.OriginSequence > entry.LogSequence && o.Period == period && indicators.Contains(o.IndicatorCode) && o.ReceivedTime <= asOf);
            if (seenBy is { } viewer && !viewer.Reader.Owns(country))
            {
                changed = changed.VisibleTo(viewer.Reader, viewer.NowMicros);
                changed = viewer.Drafts?.Released(changed, country, group, period) ?? changed;
            }
            if (await changed.AnyAsync(cancellationToken))
            {
                cell.State = ApprovalState.ChangedSinceApproval;
                if (withKeys)
                {
                    var keys = await changed.OrderBy(o => o.OriginSequence).Select(o => new ObservationKey
                    {
                        IndicatorCode = o.IndicatorCode, Country = o.Country, Period = o.Period, Sex = o.Sex, Age = o.Age, CountryOfOrigin = o.CountryOfOrigin,
                        ApplicationType = o.ApplicationType, DecisionLevel = o.DecisionLevel, ProcedureType = o.ProcedureType,
                        CountBasis = o.CountBasis, CountryOfDestination = o.CountryOfDestination,
                    }).Take(MaxChangedKeys * 4).ToListAsync(cancellationToken);
                    cell.ChangedKeys.Add(keys.Distinct().Take(MaxChangedKeys));
                }
                continue;
            }
            // A decision is of exactly this approval entry: a later entry of the cell supersedes it without anyone undoing it.
            if (decisions.TryGetValue((group, period), out var decision) && decision.LogSequence == entry.EntrySequence
                && decision.LogHash is { } decided && decided.AsSpan().SequenceEqual(entry.EntryHash))
            {
                var accepted = decision.Action == LifecycleAction.Accept;
                cell.State = accepted ? ApprovalState.Accepted : ApprovalState.Rejected;
                cell.AcceptTime = StoreTime.ToTimestamp(decision.RecordedTime);
                cell.AcceptedBy = decision.Actor;
                if (!accepted)
                {
                    cell.Reason = decision.Reason;
                }
            }
        }
        return answer;
    }
}

/// <summary>
/// Who reads a cell's status, and what it may see of the changes behind it: the rows visible to <paramref name="Reader"/> at
/// <paramref name="NowMicros"/> (<see cref="ObservationQueries.VisibleTo"/>), less the drafts this node holds back from it.
/// </summary>
public sealed record CellReader(Sharing.Reader Reader, long NowMicros, DraftHold? Drafts);
