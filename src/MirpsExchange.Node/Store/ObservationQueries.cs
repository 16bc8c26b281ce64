using System.Linq.Expressions;
using MirpsExchange.Node.Sharing;

namespace MirpsExchange.Node.Store;

/// <summary>Query building blocks over the temporal observations table.</summary>
public static class ObservationQueries
{
    /// <summary>
    /// The value of every key as <paramref name="reader"/> may know it at <paramref name="asOfMicros"/> (null: now): the
    /// revision this node had received by then and not yet superseded then (at the origin a change is received when it is
    /// recorded; at a replica when it arrived, so an answer "as of" a date stays what this node had then, whatever an
    /// origin later claims its recorded times were), deleted keys left out; except that a revision under embargo for the reader at <paramref name="nowMicros"/> does not
    /// replace the one before it. During an embargo a reader keeps the revision it could read before (as a replica
    /// does, which holds only a placeholder of the embargoed change), so an answer now and an answer as of an earlier
    /// time agree and neither shows that an embargoed revision exists; once released, the new revision replaces it in
    /// every answer. Only an embargo is passed over: a revision no longer shared with the reader (its owner narrowed
    /// the readers) ends the key for it. Apply <see cref="VisibleTo"/> after this. A draft the origin's node holds back from the
    /// reader (<paramref name="heldDraft"/>, <see cref="Approval.DraftHold.Held"/>) does not replace the approved revision
    /// either, for the same reason.
    /// </summary>
    public static IQueryable<ObservationRow> AsOfFor(this IQueryable<ObservationRow> rows, IQueryable<ObservationRow> store, Reader reader, long? asOfMicros, long nowMicros,
        Expression<Func<ObservationRow, bool>>? heldDraft = null)
    {
        // The revisions that replace earlier ones for this reader: all but those under embargo for it (or held back from it).
        var replacing = store.Where(Not(Embargoed(reader, nowMicros)));
        if (heldDraft is not null)
        {
            replacing = replacing.Where(Not(heldDraft));
        }
        var known = asOfMicros is { } time
            ? rows.Where(o => o.ReceivedTime <= time && (o.SupersededTime == null || o.SupersededTime > time
                || !replacing.Any(s => s.IndicatorCode == o.IndicatorCode && s.Country == o.Country && s.Period == o.Period
                    && s.Sex == o.Sex && s.Age == o.Age && s.CountryOfOrigin == o.CountryOfOrigin && s.ApplicationType == o.ApplicationType
                    && s.DecisionLevel == o.DecisionLevel && s.ProcedureType == o.ProcedureType && s.CountBasis == o.CountBasis
                    && s.CountryOfDestination == o.CountryOfDestination && s.Revision > o.Revision && s.ReceivedTime <= time)))
            : rows.Where(o => o.SupersededTime == null
                || !replacing.Any(s => s.IndicatorCode == o.IndicatorCode && s.Country == o.Country && s.Period == o.Period
                    && s.Sex == o.Sex && s.Age == o.Age && s.CountryOfOrigin == o.CountryOfOrigin && s.ApplicationType == o.ApplicationType
                    && s.DecisionLevel == o.DecisionLevel && s.ProcedureType == o.ProcedureType && s.CountBasis == o.CountBasis
                    && s.CountryOfDestination == o.CountryOfDestination && s.Revision > o.Revision));
        return known.Where(o => !o.Deleted);
    }

    /// <summary>The rows under embargo for <paramref name="reader"/> at <paramref name="nowMicros"/> (its own State's never are).</summary>
    private static Expression<Func<ObservationRow, bool>> Embargoed(Reader reader, long nowMicros)
    {
        if (reader.IsSecretariat)
        {
            return o => o.ReleaseTime != null && o.ReleaseTime > nowMicros;
        }
        var country = reader.Country!;
        return o => o.Origin != country && o.ReleaseTime != null && o.ReleaseTime > nowMicros;
    }

    private static Expression<Func<ObservationRow, bool>> Not(Expression<Func<ObservationRow, bool>> condition) =>
        Expression.Lambda<Func<ObservationRow, bool>>(Expression.Not(condition.Body), condition.Parameters);

    /// <summary>
    /// Keeps the rows <paramref name="predicate"/> accepts given a copy of <paramref name="values"/>; no filter
    /// when empty. Write it as a plain lambda over the list it is given, <c>codes =&gt; o =&gt; codes.Contains(o.Sex)</c>:
    /// the list is captured, so EF Core 10 sends one parameter per item (<c>IN (@codes1, @codes2, …)</c>)
    /// instead of inlining the values into the SQL text.
    /// </summary>
    public static IQueryable<ObservationRow> WhereIn(
        this IQueryable<ObservationRow> rows, IReadOnlyCollection<string> values, Func<List<string>, Expression<Func<ObservationRow, bool>>> predicate) =>
        values.Count == 0 ? rows : rows.Where(predicate([.. values]));

    /// <summary>
    /// The rows <paramref name="reader"/> may receive under the policy each carries: its own State's, and
    /// of others' those shared with it and not under embargo (the Secretariat: all but embargoed ones).
    /// Values still to withhold (small counts) are withheld by <see cref="ServedObservations"/>.
    /// </summary>
    public static IQueryable<ObservationRow> VisibleTo(this IQueryable<ObservationRow> rows, Reader reader, long nowMicros) =>
        rows.Where(Visible(reader, nowMicros));

    /// <summary>The condition of <see cref="VisibleTo"/>.</summary>
    public static Expression<Func<ObservationRow, bool>> Visible(Reader reader, long nowMicros)
    {
        if (reader.IsSecretariat)
        {
            return o => o.ReleaseTime == null || o.ReleaseTime <= nowMicros;
        }
        var country = reader.Country!;
        var entry = RowPolicy.ListEntry(country);
        return o => o.Origin == country
            || ((o.Readers == RowPolicy.AllStates || o.Readers.Contains(entry)) && (o.ReleaseTime == null || o.ReleaseTime <= nowMicros));
    }

    /// <summary>
    /// Series order: the key without the period (a series), then the period's first day; SDMX's time series are written as they
    /// are read in this order. The key index serves its (indicator, country) prefix, so the store sorts one indicator and
    /// country at a time.
    /// </summary>
    public static IOrderedQueryable<ObservationRow> OrderBySeries(this IQueryable<ObservationRow> rows) => rows
        .OrderBy(o => o.IndicatorCode).ThenBy(o => o.Country)
        .ThenBy(o => o.Sex).ThenBy(o => o.Age).ThenBy(o => o.CountryOfOrigin)
        .ThenBy(o => o.ApplicationType).ThenBy(o => o.DecisionLevel).ThenBy(o => o.ProcedureType).ThenBy(o => o.CountBasis).ThenBy(o => o.CountryOfDestination)
        .ThenBy(o => o.PeriodStart).ThenBy(o => o.Period);

    /// <summary>The order of the natural key, which the unique index serves.</summary>
    public static IOrderedQueryable<ObservationRow> OrderByKey(this IQueryable<ObservationRow> rows) => rows
        .OrderBy(o => o.IndicatorCode).ThenBy(o => o.Country).ThenBy(o => o.Period)
        .ThenBy(o => o.Sex).ThenBy(o => o.Age).ThenBy(o => o.CountryOfOrigin)
        .ThenBy(o => o.ApplicationType).ThenBy(o => o.DecisionLevel).ThenBy(o => o.ProcedureType).ThenBy(o => o.CountBasis).ThenBy(o => o.CountryOfDestination);
}
