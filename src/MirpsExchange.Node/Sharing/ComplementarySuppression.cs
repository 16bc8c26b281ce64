using System.Numerics;
using Mirps.Catalog.V1;
using MirpsExchange.Catalogue;

namespace MirpsExchange.Node.Sharing;

/// <summary>
/// Complementary suppression: which further values of a table to withhold from a reader so that no value withheld
/// from it (a small count, a change not shared with it) can be worked out from what it receives, by adding and
/// subtracting cells of the table's additive hierarchies (a total _T = the sum of its breakdown, in every dimension
/// that has a total). protos/README.md, "Disclosure control", explains the method and its limits.
/// </summary>
/// <remarks>
/// A table is one indicator, country and period; its cells are the keys' dimension values. The rule reads the
/// table's whole history, one commit at a time (revisions sharing a recorded time), and decides each revision once,
/// in the commit that writes it: a revision served in clear was, or can be, received already and is never withheld
/// later; a revision withheld stays withheld. In each commit it withholds, among the commit's own revisions that
/// would be served in clear, one after another until exact linear algebra over every state of the table so far
/// (integer Gauss-Jordan elimination) finds no withheld value determined. It reads keys and which revisions are
/// withheld, never a value, so every node that holds the same pattern (the origin, a relay, a replica checking
/// what it receives) computes the same.
/// </remarks>
public static class ComplementarySuppression
{
    /// <summary>The code of a dimension's total.</summary>
    public const string Total = "_T";

    /// <summary>
    /// One revision of one cell: <paramref name="Key"/> holds the dimension values (in <see cref="StandardCatalogue.ObservationDimensions"/>
    /// order), <paramref name="Withheld"/> whether the reader does not receive its value for a reason of its own (a small
    /// count, not shared, embargoed, not held): those are the values to protect.
    /// </summary>
    public readonly record struct Revision(long Sequence, long RecordedTime, string[] Key, bool Deleted, bool Withheld);

    /// <summary>
    /// Which dimensions of <paramref name="indicatorCode"/> are additive: declared by the indicator, with a total in their
    /// codelist, for an indicator whose values add up (not a median or a rate). Positions as in <see cref="StandardCatalogue.ObservationDimensions"/>.
    /// </summary>
    public static bool[] AdditiveDimensions(StandardCatalogue catalogue, string indicatorCode)
    {
        var dimensions = StandardCatalogue.ObservationDimensions;
        var additive = new bool[dimensions.Count];
        if (catalogue.FindIndicator(indicatorCode)?.Indicator is not { } indicator || indicator.Aggregation == AggregationRule.NotAggregable)
        {
            return additive;
        }
        for (var d = 0; d < additive.Length; d++)
        {
            additive[d] = indicator.DimensionIds.Contains(dimensions[d]) && catalogue.DimensionCodes(dimensions[d]).Contains(Total);
        }
        return additive;
    }

    /// <summary>
    /// The sequences of the revisions of one table to withhold besides the <see cref="Revision.Withheld"/> ones.
    /// </summary>
    public static HashSet<long> Complements(IReadOnlyList<Revision> revisions, IReadOnlyList<bool> additive)
    {
        var complements = new HashSet<long>();
        if (!revisions.Any(r => r.Withheld && !r.Deleted) || !additive.Contains(true))
        {
            return complements;
        }
        var ordered = revisions.OrderBy(r => r.RecordedTime).ThenBy(r => r.Sequence).ToArray();
        var table = new TableState(ordered, additive);
        var unknown = new List<int>(); // revisions whose value the reader does not have, by index into ordered
        var isUnknown = new HashSet<int>();
        var lines = new List<Line>(); // the constraints of every state so far that involve an unknown
        for (var start = 0; start < ordered.Length;)
        {
            var end = start;
            while (end < ordered.Length && ordered[end].RecordedTime == ordered[start].RecordedTime)
            {
                end++;
            }
            var (fresh, stateLines) = table.Apply(start, end);
            foreach (var index in fresh.Where(i => ordered[i].Withheld))
            {
                Add(index);
            }
            lines.AddRange(stateLines);
            while (true)
            {
                var determined = Determined(lines, unknown);
                if (determined.Count == 0)
                {
                    break;
                }
                if (Choose(determined.Select(c => unknown[c]).Order().ToList(), stateLines, fresh, isUnknown, ordered) is not { } chosen)
                {
                    break; // nothing of this commit left to withhold: the values were given away earlier (see the README's limits)
                }
                Add(chosen);
                complements.Add(ordered[chosen].Sequence);
            }
            lines.RemoveAll(line => !line.Members.Any(isUnknown.Contains)); // later commits add unknowns of their own only
            start = end;
        }
        return complements;

        void Add(int index)
        {
            if (isUnknown.Add(index))
            {
                unknown.Add(index);
            }
        }
    }

    /// <summary>
    /// The revision to withhold next: for the first determined value, a revision of this commit in one of this commit's
    /// constraints on it (the constraint with the fewest unknowns first), preferring cells with the fewest totals in their
    /// key (a breakdown rather than a total), then by key. Null when no constraint on a determined value has one.
    /// </summary>
    private static int? Choose(List<int> determined, List<Line> stateLines, List<int> fresh, HashSet<int> isUnknown, Revision[] ordered)
    {
        var candidates = fresh.Where(i => !isUnknown.Contains(i)).ToHashSet();
        foreach (var target in determined)
        {
            var best = stateLines
                .Where(line => line.Members.Contains(target))
                .OrderBy(line => line.Members.Count(isUnknown.Contains)).ThenBy(line => line.Id, StringComparer.Ordinal)
                .Select(line => line.Members.Where(candidates.Contains)
                    .OrderBy(i => ordered[i].Key.Count(code => code == Total))
                    .ThenBy(i => string.Join('\u001f', ordered[i].Key), StringComparer.Ordinal)
                    .Cast<int?>()
                    .FirstOrDefault())
                .FirstOrDefault(candidate => candidate is not null);
            if (best is not null)
            {
                return best;
            }
        }
        return null;
    }

    /// <summary>One constraint: +1 for the total's revision, -1 for each part's (<see cref="Members"/>[0] is the total).</summary>
    private sealed record Line(string Id, int[] Members);

    /// <summary>
    /// The positions in <paramref name="unknown"/> of the values the constraints determine: x is determined when it is
    /// a pivot of the reduced row echelon form of the constraints restricted to the unknowns and its row has no other
    /// (free) column, that is when the unit vector of x lies in their row space. Exact: integers, checked for overflow,
    /// and arbitrary precision when a long would overflow.
    /// </summary>
    public static List<int> Determined(IReadOnlyList<int[]> rows, int columns)
    {
        try
        {
            return Determined<long>(rows, columns);
        }
        catch (OverflowException)
        {
            return Determined<BigInteger>(rows, columns);
        }
    }

    private static List<int> Determined(List<Line> lines, List<int> unknown)
    {
        var column = new Dictionary<int, int>(unknown.Count);
        for (var c = 0; c < unknown.Count; c++)
        {
            column[unknown[c]] = c;
        }
        var rows = new List<int[]>();
        foreach (var line in lines)
        {
            var row = new int[unknown.Count];
            var any = false;
            for (var m = 0; m < line.Members.Length; m++)
            {
                if (column.TryGetValue(line.Members[m], out var c))
                {
                    row[c] += m == 0 ? 1 : -1;
                    any = true;
                }
            }
            if (any)
            {
                rows.Add(row);
            }
        }
        return Determined(rows, unknown.Count);
    }

    private static List<int> Determined<T>(IReadOnlyList<int[]> input, int columns) where T : IBinaryInteger<T>
    {
        var rows = input.Select(r => r.Select(T.CreateChecked).ToArray()).ToList();
        var pivotOf = new int[rows.Count];
        var pivotColumns = new bool[columns];
        var rank = 0;
        for (var c = 0; c < columns && rank < rows.Count; c++)
        {
            var p = rank;
            while (p < rows.Count && T.IsZero(rows[p][c]))
            {
                p++;
            }
            if (p == rows.Count)
            {
                continue;
            }
            (rows[rank], rows[p]) = (rows[p], rows[rank]);
            var pivot = rows[rank];
            for (var r = 0; r < rows.Count; r++)
            {
                if (r == rank || T.IsZero(rows[r][c]))
                {
                    continue;
                }
                var factor = rows[r][c];
                var row = rows[r];
                var divisor = T.Zero;
                for (var k = 0; k < columns; k++)
                {
                    row[k] = checked((row[k] * pivot[c]) - (pivot[k] * factor));
                    divisor = Gcd(divisor, row[k]);
                }
                if (divisor > T.One)
                {
                    for (var k = 0; k < columns; k++)
                    {
                        row[k] /= divisor;
                    }
                }
            }
            pivotOf[rank] = c;
            pivotColumns[c] = true;
            rank++;
        }
        var determined = new List<int>();
        for (var r = 0; r < rank; r++)
        {
            var free = false;
            for (var k = 0; k < columns && !free; k++)
            {
                free = !pivotColumns[k] && !T.IsZero(rows[r][k]);
            }
            if (!free)
            {
                determined.Add(pivotOf[r]);
            }
        }
        return determined;
    }

    private static T Gcd<T>(T a, T b) where T : IBinaryInteger<T>
    {
        a = T.Abs(a);
        b = T.Abs(b);
        while (!T.IsZero(b))
        {
            (a, b) = (b, a % b);
        }
        return a;
    }

    /// <summary>The table's cells as commits are applied, and the constraints each commit's state adds.</summary>
    private sealed class TableState(Revision[] ordered, IReadOnlyList<bool> additive)
    {
        /// <summary>Cell key → the index of its current revision (deleted cells are absent).</summary>
        private readonly Dictionary<string, int> _current = new(StringComparer.Ordinal);

        /// <summary>Line id → the keys of the present cells on that line.</summary>
        private readonly Dictionary<string, SortedSet<string>> _lines = new(StringComparer.Ordinal);

        /// <summary>Applies revisions [start, end) (one commit): its new present revisions, and the constraints of the new state they touch.</summary>
        public (List<int> Fresh, List<Line> Lines) Apply(int start, int end)
        {
            var touched = new Dictionary<string, int>(StringComparer.Ordinal); // key → last revision in this commit
            for (var i = start; i < end; i++)
            {
                touched[CellKey(ordered[i].Key)] = i;
            }
            var fresh = new List<int>();
            var lineIds = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var (key, index) in touched)
            {
                var cell = ordered[index].Key;
                if (ordered[index].Deleted)
                {
                    _current.Remove(key);
                }
                else
                {
                    _current[key] = index;
                    fresh.Add(index);
                }
                for (var d = 0; d < additive.Count; d++)
                {
                    if (!additive[d] || cell[d].Length == 0)
                    {
                        continue;
                    }
                    var id = LineId(cell, d);
                    lineIds.Add(id);
                    if (!_lines.TryGetValue(id, out var members))
                    {
                        _lines[id] = members = new SortedSet<string>(StringComparer.Ordinal);
                    }
                    if (ordered[index].Deleted)
                    {
                        members.Remove(key);
                    }
                    else
                    {
                        members.Add(key);
                    }
                }
            }
            var lines = new List<Line>();
            foreach (var id in lineIds)
            {
                var d = int.Parse(id.AsSpan(0, id.IndexOf('|', StringComparison.Ordinal)), System.Globalization.CultureInfo.InvariantCulture);
                int? total = null;
                var parts = new List<int>();
                foreach (var key in _lines[id])
                {
                    var index = _current[key];
                    if (ordered[index].Key[d] == Total)
                    {
                        total = index;
                    }
                    else
                    {
                        parts.Add(index);
                    }
                }
                if (total is { } t && parts.Count > 0)
                {
                    lines.Add(new Line(id, [t, .. parts]));
                }
            }
            fresh.Sort();
            return (fresh, lines);
        }

        private static string CellKey(string[] key) => string.Join('\u001f', key);

        /// <summary>The line through <paramref name="cell"/> along dimension <paramref name="d"/>: every other dimension fixed.</summary>
        private static string LineId(string[] cell, int d)
        {
            var rest = (string[])cell.Clone();
            rest[d] = "*";
            return $"{d}|{string.Join('\u001f', rest)}";
        }
    }
}
