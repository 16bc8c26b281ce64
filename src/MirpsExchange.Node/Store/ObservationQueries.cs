using System.Linq.Expressions;

namespace MirpsExchange.Node.Store;

/// <summary>Query building blocks over the temporal observations table.</summary>
public static class ObservationQueries
{
    /// <summary>
    /// The value of every key as known at <paramref name="asOfMicros"/> (null: now): the revision recorded
    /// at or before that time and not yet superseded then. Deleted keys are left out.
    /// </summary>
    public static IQueryable<ObservationRow> AsOf(this IQueryable<ObservationRow> rows, long? asOfMicros)
    {
        var known = asOfMicros is { } time
            ? rows.Where(o => o.RecordedTime <= time && (o.SupersededTime == null || o.SupersededTime > time))
            : rows.Where(o => o.SupersededTime == null);
        return known.Where(o => !o.Deleted);
    }

    /// <summary>Keeps rows whose <paramref name="field"/> is one of <paramref name="values"/>; no filter when empty.</summary>
    public static IQueryable<ObservationRow> WhereIn(this IQueryable<ObservationRow> rows, IReadOnlyCollection<string> values, Expression<Func<ObservationRow, string>> field)
    {
        if (values.Count == 0)
        {
            return rows;
        }
        // Through a member of a holder object, as a captured variable would be, so EF Core sends the
        // list as a parameter instead of inlining it into the SQL text.
        var holder = Expression.Property(Expression.Constant(new Values([.. values])), nameof(Values.Items));
        var contains = Expression.Call(typeof(Enumerable), nameof(Enumerable.Contains), [typeof(string)], holder, field.Body);
        return rows.Where(Expression.Lambda<Func<ObservationRow, bool>>(contains, field.Parameters));
    }

    /// <summary>The order of the natural key, which the unique index serves.</summary>
    public static IOrderedQueryable<ObservationRow> OrderByKey(this IQueryable<ObservationRow> rows) => rows
        .OrderBy(o => o.IndicatorCode).ThenBy(o => o.Country).ThenBy(o => o.Period)
        .ThenBy(o => o.Sex).ThenBy(o => o.Age).ThenBy(o => o.CountryOfOrigin);

    private sealed record Values(List<string> Items);
}
