using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Query;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Approval;

/// <summary>
/// The drafts an origin's node holds back from a reader (Node:Sharing:...:HoldDrafts): a change of an indicator that holds
/// drafts, not yet covered by an approval of its group and period (an APPROVE entry of this node's lifecycle log whose
/// log_sequence is at or after the change). An unapproval does not take back what an approval released: it was served.
/// </summary>
public sealed class DraftHold
{
    private readonly string _origin;
    private readonly IReadOnlySet<string> _indicators;
    private readonly Dictionary<string, string> _groupOf;
    private readonly Dictionary<(string Group, string Period), long> _approvedUpTo;

    private DraftHold(string origin, IReadOnlySet<string> indicators, Dictionary<string, string> groupOf, Dictionary<(string, string), long> approvedUpTo) =>
        (_origin, _indicators, _groupOf, _approvedUpTo) = (origin, indicators, groupOf, approvedUpTo);

    /// <summary>Whether <paramref name="row"/> is a draft held back.</summary>
    public bool Holds(ObservationRow row) =>
        row.Origin == _origin && _indicators.Contains(row.IndicatorCode)
        && row.OriginSequence > _approvedUpTo.GetValueOrDefault((_groupOf.GetValueOrDefault(row.IndicatorCode, ""), row.Period));

    /// <summary>
    /// <see cref="Holds"/> as a condition the store evaluates, over <paramref name="entries"/> (this node's lifecycle log, read
    /// in the same snapshot): a row of this origin, of an indicator holding drafts, that no APPROVE entry of its group and
    /// period anchored at or after it released.
    /// </summary>
    public Expression<Func<ObservationRow, bool>> Held(IQueryable<LifecycleEntryRow> entries)
    {
        var origin = _origin;
        var approvals = entries.Where(e => e.Origin == origin && e.Action == LifecycleAction.Approve);
        Expression<Func<ObservationRow, bool>>? any = null;
        foreach (var group in _indicators.GroupBy(code => _groupOf.GetValueOrDefault(code, "")))
        {
            var (id, codes) = (group.Key, group.ToList());
            Expression<Func<ObservationRow, bool>> held = o =>
                codes.Contains(o.IndicatorCode) && !approvals.Any(e => e.GroupId == id && e.Period == o.Period && e.LogSequence >= o.OriginSequence);
            any = any is null ? held : Expression.Lambda<Func<ObservationRow, bool>>(
                Expression.OrElse(any.Body, ReplacingExpressionVisitor.Replace(held.Parameters[0], any.Parameters[0], held.Body)),
                any.Parameters);
        }
        if (any is null)
        {
            return o => false;
        }
        Expression<Func<ObservationRow, bool>> ofOrigin = o => o.Origin == origin;
        return Expression.Lambda<Func<ObservationRow, bool>>(
            Expression.AndAlso(ofOrigin.Body, ReplacingExpressionVisitor.Replace(any.Parameters[0], ofOrigin.Parameters[0], any.Body)),
            ofOrigin.Parameters);
    }

    /// <summary>
    /// The rows of <paramref name="rows"/> of <paramref name="group"/> and <paramref name="period"/> not held back: those of
    /// indicators that hold no drafts, and those an approval released.
    /// </summary>
    public IQueryable<ObservationRow> Released(IQueryable<ObservationRow> rows, string group, string period)
    {
        var (origin, held, upTo) = (_origin, _indicators.ToList(), _approvedUpTo.GetValueOrDefault((group, period)));
        return rows.Where(o => o.Origin != origin || !held.Contains(o.IndicatorCode) || o.OriginSequence <= upTo);
    }

    /// <summary>
    /// What this node (of <paramref name="nodeCountry"/>) holds back from <paramref name="reader"/>, read in the caller's snapshot:
    /// null when nothing (the Secretariat's node, the owner reading, or no indicator holding drafts from this reader). The change
    /// feed (<paramref name="feed"/>) holds every draft back from everyone but the owner, the Secretariat included
    /// (<see cref="SharingPolicies.HoldingDraftsFrom"/>).
    /// </summary>
    public static async Task<DraftHold?> ForAsync(NodeDbContext db, string nodeCountry, SharingPolicies policies, StandardCatalogue catalogue, Reader reader,
        CancellationToken cancellationToken, bool feed = false)
    {
        var indicators = policies.HoldingDraftsFrom(reader, feed);
        if (nodeCountry.Length == 0 || reader.Owns(nodeCountry) || indicators.Count == 0)
        {
            return null;
        }
        var approvals = await db.LifecycleEntries.AsNoTracking()
            .Where(e => e.Origin == nodeCountry && e.Action == LifecycleAction.Approve)
            .Select(e => new { e.GroupId, e.Period, e.LogSequence })
            .ToListAsync(cancellationToken);
        var approvedUpTo = new Dictionary<(string, string), long>();
        foreach (var approval in approvals)
        {
            approvedUpTo[(approval.GroupId, approval.Period)] = Math.Max(approvedUpTo.GetValueOrDefault((approval.GroupId, approval.Period)), approval.LogSequence);
        }
        return new DraftHold(nodeCountry, indicators, catalogue.Catalog.Indicators.ToDictionary(i => i.Code, i => i.GroupId), approvedUpTo);
    }
}
