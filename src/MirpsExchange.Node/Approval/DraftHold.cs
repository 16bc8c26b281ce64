using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Query;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Approval;

/// <summary>
/// The drafts a node holds back from a reader until their origin approves them: a change not yet covered by an approval of
/// its group and period (an APPROVE entry of the origin's lifecycle log, as this node holds it, whose log_sequence is at or
/// after the change) that is held
/// <list type="bullet">
/// <item>by the policy its origin signed (SharingPolicy.draft_sharing, <see cref="RowPolicy.HoldsDraftFrom"/>): at every node that
/// serves it, the origin and any relay (the Secretariat's node, which receives the drafts shown to it) alike;</item>
/// <item>or, at the origin's own node, by its configuration now (Node:Sharing:...:HoldDrafts): changes written before the hold
/// was signed, or before it was configured. The feed serves such a change to the Secretariat only when its signed hold
/// shows it to the Secretariat, so that the Secretariat's node can tell a draft it holds from an approved change.</item>
/// </list>
/// An unapproval does not take back what an approval released: it was served.
/// </summary>
public sealed class DraftHold
{
    private readonly string _node;
    private readonly Reader _reader;
    /// <summary>Indicators this node's configuration holds back from the reader, whatever its changes signed.</summary>
    private readonly IReadOnlySet<string> _configured;
    /// <summary>Indicators this node's configuration holds back from the reader unless a change's signed hold shows it to the reader (the Secretariat's feed).</summary>
    private readonly IReadOnlySet<string> _unlessSigned;
    private readonly Dictionary<string, string> _groupOf;
    private readonly Dictionary<(string Origin, string Group, string Period), long> _approvedUpTo;

    private DraftHold(string node, Reader reader, IReadOnlySet<string> configured, IReadOnlySet<string> unlessSigned, Dictionary<string, string> groupOf,
        Dictionary<(string, string, string), long> approvedUpTo) =>
        (_node, _reader, _configured, _unlessSigned, _groupOf, _approvedUpTo) = (node, reader, configured, unlessSigned, groupOf, approvedUpTo);

    /// <summary>Whether <paramref name="row"/> is a draft held back.</summary>
    public bool Holds(ObservationRow row) =>
        !_reader.Owns(row.Origin)
        && (row.Policy().HoldsDraftFrom(_reader)
            || (row.Origin == _node && (_configured.Contains(row.IndicatorCode) || (_unlessSigned.Contains(row.IndicatorCode) && row.DraftSharing != DraftSharing.Secretariat))))
        && row.OriginSequence > _approvedUpTo.GetValueOrDefault((row.Origin, _groupOf.GetValueOrDefault(row.IndicatorCode, ""), row.Period));

    /// <summary>The changes whose signed hold (alone) holds them back from the reader, as a condition the store evaluates.</summary>
    private Expression<Func<ObservationRow, bool>> SignedHold() => _reader.IsSecretariat
        ? o => o.DraftSharing != DraftSharing.Unspecified && o.DraftSharing != DraftSharing.Secretariat
        : o => o.DraftSharing != DraftSharing.Unspecified;

    /// <summary>Whether a change is held, approval aside (<see cref="Holds"/>' first part), as a condition the store evaluates.</summary>
    private Expression<Func<ObservationRow, bool>> HeldUnapproved()
    {
        var (node, reader, configured, unlessSigned) = (_node, _reader.Country ?? "", _configured.ToList(), _unlessSigned.ToList());
        var signed = SignedHold();
        Expression<Func<ObservationRow, bool>> byNode = o => o.Origin == node
            && (configured.Contains(o.IndicatorCode) || (unlessSigned.Contains(o.IndicatorCode) && o.DraftSharing != DraftSharing.Secretariat));
        Expression<Func<ObservationRow, bool>> notOwn = o => o.Origin != reader;
        var parameter = notOwn.Parameters[0];
        return Expression.Lambda<Func<ObservationRow, bool>>(
            Expression.AndAlso(notOwn.Body, Expression.OrElse(
                ReplacingExpressionVisitor.Replace(signed.Parameters[0], parameter, signed.Body),
                ReplacingExpressionVisitor.Replace(byNode.Parameters[0], parameter, byNode.Body))),
            parameter);
    }

    /// <summary>
    /// <see cref="Holds"/> as a condition the store evaluates, over <paramref name="entries"/> (this node's lifecycle logs, read
    /// in the same snapshot): a held change that no APPROVE entry of its origin, group and period anchored at or after it released.
    /// </summary>
    public Expression<Func<ObservationRow, bool>> Held(IQueryable<LifecycleEntryRow> entries)
    {
        var approvals = entries.Where(e => e.Action == LifecycleAction.Approve);
        Expression<Func<ObservationRow, bool>>? any = null;
        foreach (var group in _groupOf.GroupBy(pair => pair.Value, pair => pair.Key))
        {
            var (id, codes) = (group.Key, group.ToList());
            Expression<Func<ObservationRow, bool>> unapproved = o =>
                codes.Contains(o.IndicatorCode) && !approvals.Any(e => e.Origin == o.Origin && e.GroupId == id && e.Period == o.Period && e.LogSequence >= o.OriginSequence);
            any = any is null ? unapproved : Expression.Lambda<Func<ObservationRow, bool>>(
                Expression.OrElse(any.Body, ReplacingExpressionVisitor.Replace(unapproved.Parameters[0], any.Parameters[0], unapproved.Body)),
                any.Parameters);
        }
        if (any is null)
        {
            return o => false;
        }
        var held = HeldUnapproved();
        return Expression.Lambda<Func<ObservationRow, bool>>(
            Expression.AndAlso(held.Body, ReplacingExpressionVisitor.Replace(any.Parameters[0], held.Parameters[0], any.Body)),
            held.Parameters);
    }

    /// <summary>
    /// The rows of <paramref name="rows"/> (of <paramref name="origin"/>, <paramref name="group"/> and <paramref name="period"/>)
    /// not held back: those of no hold, and those an approval released.
    /// </summary>
    public IQueryable<ObservationRow> Released(IQueryable<ObservationRow> rows, string origin, string group, string period)
    {
        var upTo = _approvedUpTo.GetValueOrDefault((origin, group, period));
        var held = HeldUnapproved();
        Expression<Func<ObservationRow, bool>> unreleased = o => o.OriginSequence > upTo;
        var both = Expression.Lambda<Func<ObservationRow, bool>>(
            Expression.AndAlso(held.Body, ReplacingExpressionVisitor.Replace(unreleased.Parameters[0], held.Parameters[0], unreleased.Body)),
            held.Parameters);
        return rows.Where(Expression.Lambda<Func<ObservationRow, bool>>(Expression.Not(both.Body), both.Parameters));
    }

    /// <summary>
    /// What this node (of <paramref name="nodeCountry"/>, "" for the Secretariat's) holds back from <paramref name="reader"/>, read in
    /// the caller's snapshot (the approvals of <paramref name="origin"/> only, when given: the feed's). Null for the node's own
    /// reader (its State, or the Secretariat at the Secretariat's node): it holds nothing back from itself. The change feed (<paramref name="feed"/>) serves a draft this node's
    /// configuration holds to the Secretariat only when the change's signed hold shows it to the Secretariat
    /// (<see cref="SharingPolicies.HoldingDraftsFrom"/>).
    /// </summary>
    public static async Task<DraftHold?> ForAsync(NodeDbContext db, string nodeCountry, SharingPolicies policies, StandardCatalogue catalogue, Reader reader,
        CancellationToken cancellationToken, bool feed = false, string? origin = null)
    {
        if (Reader.OfNode(nodeCountry) == reader)
        {
            return null;
        }
        var (configured, unlessSigned) = policies.HoldingDraftsFrom(reader, feed);
        var approvals = db.LifecycleEntries.AsNoTracking().Where(e => e.Action == LifecycleAction.Approve);
        if (origin is not null)
        {
            approvals = approvals.Where(e => e.Origin == origin);
        }
        var approvedUpTo = new Dictionary<(string, string, string), long>();
        foreach (var approval in await approvals.Select(e => new { e.Origin, e.GroupId, e.Period, e.LogSequence }).ToListAsync(cancellationToken))
        {
            var cell = (approval.Origin, approval.GroupId, approval.Period);
            approvedUpTo[cell] = Math.Max(approvedUpTo.GetValueOrDefault(cell), approval.LogSequence);
        }
        return new DraftHold(nodeCountry, reader, configured, unlessSigned, catalogue.Catalog.Indicators.ToDictionary(i => i.Code, i => i.GroupId), approvedUpTo);
    }
}
