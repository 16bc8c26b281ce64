using System.Numerics;
using System.Runtime.InteropServices;
using Mirps.Catalog.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Catalogue.Validation.Rules;

namespace MirpsExchange.Node.Sharing;

/// <summary>
/// Complementary suppression: which further values of a table to withhold from a reader so that no value withheld
/// from it (a small count, a change not shared with it) can be worked out from what it receives, by adding and
/// subtracting cells of the table's additive hierarchies (a total _T = the sum of its breakdown, in every dimension
/// that has a total) and of its periods (a flow's year = the sum of its quarters = the sum of its months; a stock's year =
/// its last quarter = December). protos/README.md, "Disclosure control", explains the method and its limits.
/// </summary>
/// <remarks>
/// A table is one indicator, country and calendar year (the year, its quarters and its months); its cells are the keys'
/// periods and dimension values. The rule reads the
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
    /// count, not shared, embargoed, not held): those are the values to protect. <paramref name="Period"/> is the cell's period
    /// ("2023", "2023-Q1", "2023-01"); cells of different periods lie on the temporal lines of <see cref="Rule.Temporal"/>.
    /// </summary>
    public readonly record struct Revision(long Sequence, long RecordedTime, string[] Key, bool Deleted, bool Withheld, string Period = "");

    /// <summary>
    /// The lines of an indicator's table: its <paramref name="Additive"/> dimensions (<see cref="AdditiveDimensions"/>) and its
    /// temporal rule (<see cref="TemporalLines"/>: SUM or END_OF_PERIOD; anything else adds no line).
    /// </summary>
    public readonly record struct Rule(IReadOnlyList<bool> Additive, TemporalAggregation Temporal);

    /// <summary>The lines <paramref name="indicatorCode"/>'s tables lie on.</summary>
    public static Rule RuleOf(StandardCatalogue catalogue, string indicatorCode) =>
        new(AdditiveDimensions(catalogue, indicatorCode), TemporalLines(catalogue, indicatorCode));

    /// <summary>
    /// The temporal rule that makes <paramref name="indicatorCode"/>'s periods of one year exact against each other, as the
    /// catalogue's TEMPORAL_CONSISTENCY rule reads it (<see cref="TemporalAggregations.Of"/>): SUM for a flow (the year = the sum of
    /// its quarters = the sum of its months; a quarter = the sum of its months), END_OF_PERIOD for a stock (the year = Q4 =
    /// December; a quarter = its last month); NOT_AGGREGABLE (no line) for a statistic or an unknown indicator.
    /// </summary>
    public static TemporalAggregation TemporalLines(StandardCatalogue catalogue, string indicatorCode) =>
        catalogue.FindIndicator(indicatorCode)?.Indicator is { } indicator && TemporalAggregations.Of(indicator) is var rule
            && rule is TemporalAggregation.Sum or TemporalAggregation.EndOfPeriod
            ? rule
            : TemporalAggregation.NotAggregable;

    /// <summary>
    /// Which dimensions of <paramref name="indicatorCode"/> are additive: declared by the indicator, with a total in their
    /// codelist, for an indicator whose values add up within a State (a stock or a flow; not a statistic: a median, a rate).
    /// An indicator not additive across States (PERSONS_ASSISTED: the same people counted by two States) still adds up
    /// within one: its cross-State rule says nothing here. Positions as in <see cref="StandardCatalogue.ObservationDimensions"/>.
    /// </summary>
    public static bool[] AdditiveDimensions(StandardCatalogue catalogue, string indicatorCode)
    {
        var dimensions = StandardCatalogue.ObservationDimensions;
        var additive = new bool[dimensions.Count];
        if (catalogue.FindIndicator(indicatorCode)?.Indicator is not { } indicator || indicator.Kind is not (IndicatorKind.Stock or IndicatorKind.Flow))
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
    /// The sequences of the revisions of one table to withhold besides the <see cref="Revision.Withheld"/> ones, with the
    /// additive lines only (no temporal line).
    /// </summary>
    public static HashSet<long> Complements(IReadOnlyList<Revision> revisions, IReadOnlyList<bool> additive) =>
        Complements(revisions, new Rule(additive, TemporalAggregation.NotAggregable));

    /// <summary>
    /// The sequences of the revisions of one table to withhold besides the <see cref="Revision.Withheld"/> ones.
    /// </summary>
    public static HashSet<long> Complements(IReadOnlyList<Revision> revisions, Rule rule)
    {
        var complements = new HashSet<long>();
        if (!revisions.Any(r => r.Withheld && !r.Deleted) || (!rule.Additive.Contains(true) && rule.Temporal == TemporalAggregation.NotAggregable))
        {
            return complements;
        }
        var ordered = revisions.OrderBy(r => r.RecordedTime).ThenBy(r => r.Sequence).ToArray();
        var table = new TableState(ordered, rule);
        var isUnknown = new HashSet<int>(); // revisions whose value the reader does not have, by index into ordered
        var lines = new List<Line>(); // the constraints of every state so far that involve an unknown
        for (var start = 0; start < ordered.Length;)
        {
            var end = start;
            while (end < ordered.Length && ordered[end].RecordedTime == ordered[start].RecordedTime)
            {
                end++;
            }
            var (fresh, stateLines) = table.Apply(start, end);
            isUnknown.UnionWith(fresh.Where(i => ordered[i].Withheld));
            lines.AddRange(stateLines);
            // One elimination per commit over every line so far, restricted to the unknowns and this commit's revisions (the
            // candidates, carried along): a line without an unknown yet is a row of candidates only. Each complement chosen
            // turns a candidate column into an unknown one, and the elimination goes on from where it was.
            var candidatesOrUnknown = fresh.Concat(isUnknown).ToHashSet();
            var search = new Search(new Elimination(Rows(lines, candidatesOrUnknown.Contains)), stateLines, fresh, isUnknown, ordered);
            while (search.Choose() is { Count: > 0 } chosen)
            {
                search.Withhold(chosen);
                complements.UnionWith(chosen.Select(i => ordered[i].Sequence));
            }
            lines.RemoveAll(line => !line.Members.Any(isUnknown.Contains)); // later commits add unknowns of their own only
            start = end;
        }
        return complements;
    }

    /// <summary>
    /// One commit's search for complements, among its revisions still served (the candidates). <see cref="Choose"/> gives the
    /// revisions to withhold next; none when no withheld value is determined (or none is left to withhold: the values were
    /// given away earlier, see the README's limits). The elimination over the unknowns, the candidates' columns carried along
    /// without being pivots, tells for each determined value t which candidates c would make it undetermined alone: c's
    /// column lies in the span of the unknowns' columns (no row without a pivot has an entry for c) and t's reduced row has
    /// an entry for c. Among those, for each determined value in turn that the ones chosen before it do not cover, the
    /// preferred: the one on most constraints of this commit that hold an unknown already, then cells with the fewest totals
    /// in their key (a breakdown rather than a total; a quarter counts as one total, a year as two), then by period and key.
    /// When no candidate is enough alone (a pair is needed), the preferred member of this commit's constraints on the
    /// determined values, else of the commit. A chosen candidate's column becomes pivotable and the elimination goes on from
    /// where it was (what eliminating again from scratch gives, at a fraction of the cost).
    /// </summary>
    private sealed class Search
    {
        private readonly Elimination _elimination;
        private readonly List<int> _fresh;
        private readonly HashSet<int> _isUnknown;
        private readonly Revision[] _ordered;

        /// <summary>This commit's constraints through each revision.</summary>
        private readonly ILookup<int, Line> _through;

        /// <summary>This commit's constraints that hold an unknown.</summary>
        private readonly HashSet<Line> _holding = new(ReferenceEqualityComparer.Instance);

        /// <summary>
        /// How many of this commit's constraints through a candidate hold an unknown already: withholding it there closes a
        /// pattern (a rectangle, a box) rather than opening a new constraint with a single unknown.
        /// </summary>
        private readonly Dictionary<int, int> _joined = [];

        /// <summary>This commit's revisions in order of preference after <see cref="_joined"/>: fewest totals, then by period and key.</summary>
        private readonly Dictionary<int, int> _rank;

        public Search(Elimination elimination, List<Line> stateLines, List<int> fresh, HashSet<int> isUnknown, Revision[] ordered)
        {
            (_elimination, _fresh, _isUnknown, _ordered) = (elimination, fresh, isUnknown, ordered);
            _rank = fresh.OrderBy(i => Totals(ordered[i])).ThenBy(i => CellKey(ordered[i]), StringComparer.Ordinal)
                .Select((revision, rank) => (revision, rank)).ToDictionary(p => p.revision, p => p.rank);
            _through = stateLines.SelectMany(line => line.Members.Select(member => (member, line))).ToLookup(p => p.member, p => p.line);
            foreach (var line in stateLines.Where(line => line.Members.Any(isUnknown.Contains)))
            {
                Hold(line);
            }
        }

        private void Hold(Line line)
        {
            if (_holding.Add(line))
            {
                foreach (var member in line.Members)
                {
                    _joined[member] = _joined.GetValueOrDefault(member) + 1;
                }
            }
        }

        /// <summary>Makes <paramref name="chosen"/> unknowns.</summary>
        public void Withhold(List<int> chosen)
        {
            _isUnknown.UnionWith(chosen);
            foreach (var line in chosen.SelectMany(c => _through[c]))
            {
                Hold(line);
            }
        }

        public List<int> Choose()
        {
            var candidates = _fresh.Where(i => !_isUnknown.Contains(i)).ToHashSet();
            if (candidates.Count == 0)
            {
                return [];
            }
            _elimination.Reduce(_isUnknown.Contains);
            var determined = _elimination.PivotRows().Where(row => row.Columns.Count(_isUnknown.Contains) == 1).OrderBy(row => row.Pivot).ToList();
            if (determined.Count == 0)
            {
                return [];
            }
            // One for each determined value in turn that those chosen before it in this round do not already cover. A constraint
            // with no unknown is a row without a pivot: its candidates lie outside the unknowns' span.
            var chosen = new List<int>();
            foreach (var row in determined)
            {
                var enough = row.Columns.Where(c => candidates.Contains(c) && !_elimination.IsOutside(c)).ToList();
                if (!enough.Any(chosen.Contains) && Preferred(enough) is { } next)
                {
                    chosen.Add(next);
                }
            }
            if (chosen.Count > 0)
            {
                return chosen;
            }
            return [(Preferred(determined.SelectMany(row => _through[row.Pivot]).SelectMany(line => line.Members).Where(candidates.Contains)) ?? Preferred(candidates))!.Value];
        }

        /// <summary>The preferred of this commit's <paramref name="revisions"/>: on most constraints that hold an unknown, then by <see cref="_rank"/>.</summary>
        private int? Preferred(IEnumerable<int> revisions)
        {
            int? best = null;
            var (bestJoined, bestRank) = (0, 0);
            foreach (var i in revisions)
            {
                var (joined, rank) = (_joined.GetValueOrDefault(i), _rank[i]);
                if (best is null || joined > bestJoined || (joined == bestJoined && rank < bestRank))
                {
                    (best, bestJoined, bestRank) = (i, joined, rank);
                }
            }
            return best;
        }
    }

    /// <summary>A cell's period and dimension values: its identity within a table.</summary>
    private static string CellKey(Revision revision) => $"{revision.Period}\u001f{string.Join('\u001f', revision.Key)}";

    /// <summary>How many totals a cell's key holds: its dimensions' _T, and its period's length (a quarter one, a year two).</summary>
    private static int Totals(Revision revision) => revision.Key.Count(code => code == Total)
        + (Period.TryParse(revision.Period, out var period) ? period.Granularity switch { PeriodGranularity.Year => 2, PeriodGranularity.Quarter => 1, _ => 0 } : 0);

    /// <summary>One constraint: +1 for the total's revision, -1 for each part's (<see cref="Members"/>[0] is the total).</summary>
    private sealed record Line(string Id, int[] Members);

    /// <summary>
    /// The columns whose value dense rows of integer coefficients (over <paramref name="columns"/> unknowns, each row equal
    /// to a known amount) determine: x is determined when the unit vector of x lies in the rows' span.
    /// </summary>
    public static List<int> Determined(IReadOnlyList<int[]> rows, int columns) =>
        [.. Reduced([.. rows.Select(row => Enumerable.Range(0, columns).Where(c => row[c] != 0).ToDictionary(c => c, c => (long)row[c]))]).Rows()
            .Where(row => row.Pivot is not null && row.Columns.Length == 1).Select(row => row.Pivot!.Value)];

    private static Elimination Reduced(IReadOnlyList<Dictionary<int, long>> rows)
    {
        var elimination = new Elimination(rows);
        elimination.Reduce(_ => true);
        return elimination;
    }

    /// <summary>The constraints' rows over the revisions <paramref name="kept"/> (sparse: revision → coefficient); rows with none left out.</summary>
    private static List<Dictionary<int, long>> Rows(List<Line> lines, Func<int, bool> kept)
    {
        var rows = new List<Dictionary<int, long>>();
        foreach (var line in lines)
        {
            Dictionary<int, long>? row = null;
            for (var m = 0; m < line.Members.Length; m++)
            {
                if (kept(line.Members[m]))
                {
                    row ??= [];
                    row[line.Members[m]] = row.GetValueOrDefault(line.Members[m]) + (m == 0 ? 1 : -1);
                }
            }
            if (row is not null)
            {
                rows.Add(row);
            }
        }
        return rows;
    }

    /// <summary>
    /// The reduced row echelon form of sparse integer rows, pivoting only on columns the predicate accepts (the others are
    /// carried along, as right-hand sides): each nonzero row's pivot (null for a row left with no pivotable column) and
    /// columns. <see cref="Reduce"/> may be called again with a predicate that accepts more columns (a candidate become an
    /// unknown): it goes on from the form it reached, which is what eliminating from scratch gives. Exact: Gauss-Jordan
    /// elimination over the integers (each row divided by the gcd of its entries) in checked longs, and again from the start
    /// in arbitrary precision should a long overflow. Sparse, so a large table costs what its withheld cells touch. The
    /// pivot of a row is its pivotable column in the fewest rows, ties by column: deterministic.
    /// </summary>
    private sealed class Elimination(IReadOnlyList<Dictionary<int, long>> input)
    {
        private Elimination<long>? _long = new(input);
        private Elimination<BigInteger>? _big;

        /// <summary>Pivots on the columns <paramref name="pivotable"/> accepts (every one it accepted before, and more).</summary>
        public void Reduce(Func<int, bool> pivotable)
        {
            if (_long is not null)
            {
                try
                {
                    _long.Reduce(pivotable);
                    return;
                }
                catch (OverflowException)
                {
                    _long = null;
                }
            }
            (_big ??= new(input)).Reduce(pivotable);
        }

        /// <summary>Every nonzero row: its pivot (null for a row with no pivotable column) and columns.</summary>
        public List<(int? Pivot, int[] Columns)> Rows() => _long?.Rows() ?? _big!.Rows();

        /// <summary>The rows with a pivot: pivot and columns.</summary>
        public List<(int Pivot, int[] Columns)> PivotRows() => _long?.PivotRows() ?? _big!.PivotRows();

        /// <summary>Whether a row without a pivot has an entry in column <paramref name="c"/>.</summary>
        public bool IsOutside(int c) => _long?.IsOutside(c) ?? _big!.IsOutside(c);
    }

    private sealed class Elimination<T> where T : struct, IBinaryInteger<T>
    {
        private readonly List<Dictionary<int, T>> _rows;
        private readonly Dictionary<int, HashSet<int>> _rowsOf = []; // column → the rows with an entry in it
        private readonly int?[] _pivotOf;
        private readonly HashSet<int> _pivots = [];
        private readonly Dictionary<int, int> _free = []; // column → the rows without a pivot with an entry in it

        public Elimination(IReadOnlyList<Dictionary<int, long>> input)
        {
            _rows = [.. input.Select(r => r.Where(e => e.Value != 0).ToDictionary(e => e.Key, e => T.CreateChecked(e.Value)))];
            _pivotOf = new int?[_rows.Count];
            for (var r = 0; r < _rows.Count; r++)
            {
                foreach (var c in _rows[r].Keys)
                {
                    (_rowsOf.TryGetValue(c, out var set) ? set : _rowsOf[c] = []).Add(r);
                    _free[c] = _free.GetValueOrDefault(c) + 1;
                }
            }
        }

        /// <summary>
        /// Pivots every row still without a pivot on a pivotable column, if it has one. A row left without one holds no pivotable
        /// column, and eliminating a later pivot never touches it (it has no entry there): one pass is enough.
        /// </summary>
        public void Reduce(Func<int, bool> pivotable)
        {
            for (var r = 0; r < _rows.Count; r++)
            {
                if (_pivotOf[r] is not null)
                {
                    continue;
                }
                var row = _rows[r];
                int? chosen = null;
                foreach (var k in row.Keys)
                {
                    if (pivotable(k) && !_pivots.Contains(k)
                        && (chosen is not { } best || _rowsOf[k].Count < _rowsOf[best].Count || (_rowsOf[k].Count == _rowsOf[best].Count && k < best)))
                    {
                        chosen = k;
                    }
                }
                if (chosen is { } c)
                {
                    Eliminate(r, c);
                }
            }
        }

        public List<(int? Pivot, int[] Columns)> Rows() => [.. _rows.Select((row, r) => (_pivotOf[r], row.Keys.ToArray())).Where(row => row.Item2.Length > 0)];

        public List<(int Pivot, int[] Columns)> PivotRows()
        {
            var rows = new List<(int, int[])>(_pivots.Count);
            for (var r = 0; r < _rows.Count; r++)
            {
                if (_pivotOf[r] is { } pivot)
                {
                    rows.Add((pivot, [.. _rows[r].Keys]));
                }
            }
            return rows;
        }

        public bool IsOutside(int c) => _free.GetValueOrDefault(c) > 0;

        /// <summary>Makes column <paramref name="c"/> row <paramref name="r"/>'s pivot and clears it from every other row.</summary>
        private void Eliminate(int r, int c)
        {
            var row = _rows[r];
            _pivots.Add(c);
            _pivotOf[r] = c;
            foreach (var k in row.Keys)
            {
                _free[k]--;
            }
            var p = row[c];
            foreach (var s in _rowsOf[c].Where(s => s != r).ToList())
            {
                // other = other * p - row * f: the column c cancels.
                var other = _rows[s];
                var free = _pivotOf[s] is null ? 1 : 0; // a row without a pivot yet (later in this pass) counts in _free
                var f = other[c];
                if (p != T.One)
                {
                    foreach (var k in other.Keys)
                    {
                        ref var value = ref CollectionsMarshal.GetValueRefOrNullRef(other, k);
                        value = checked(value * p);
                    }
                }
                foreach (var (k, v) in row)
                {
                    ref var value = ref CollectionsMarshal.GetValueRefOrAddDefault(other, k, out var existed);
                    value = checked(value - (v * f));
                    if (T.IsZero(value))
                    {
                        other.Remove(k);
                        if (existed)
                        {
                            _rowsOf[k].Remove(s);
                            _free[k] -= free;
                        }
                    }
                    else if (!existed)
                    {
                        (_rowsOf.TryGetValue(k, out var set) ? set : _rowsOf[k] = []).Add(s);
                        _free[k] = _free.GetValueOrDefault(k) + free;
                    }
                }
                var divisor = T.Zero;
                foreach (var v in other.Values)
                {
                    divisor = Gcd(divisor, v);
                }
                if (divisor > T.One)
                {
                    foreach (var k in other.Keys)
                    {
                        ref var value = ref CollectionsMarshal.GetValueRefOrNullRef(other, k);
                        value /= divisor;
                    }
                }
            }
        }
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
    private sealed class TableState(Revision[] ordered, Rule rule)
    {
        /// <summary>Cell key (period and dimension values) → the index of its current revision (deleted cells are absent).</summary>
        private readonly Dictionary<string, int> _current = new(StringComparer.Ordinal);

        /// <summary>
        /// Line id → the keys of the present cells on that line, which of them is the line's total, and for a temporal line how
        /// many parts it has (it holds only once every one is present).
        /// </summary>
        private readonly Dictionary<string, (SortedSet<string> Members, Func<Revision, bool> IsTotal, int? Parts)> _lines = new(StringComparer.Ordinal);

        /// <summary>Applies revisions [start, end) (one commit): its new present revisions, and the constraints of the new state they touch.</summary>
        public (List<int> Fresh, List<Line> Lines) Apply(int start, int end)
        {
            var touched = new Dictionary<string, int>(StringComparer.Ordinal); // key → last revision in this commit
            for (var i = start; i < end; i++)
            {
                touched[CellKey(ordered[i])] = i;
            }
            var fresh = new List<int>();
            var lineIds = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var (key, index) in touched)
            {
                var revision = ordered[index];
                if (revision.Deleted)
                {
                    _current.Remove(key);
                }
                else
                {
                    _current[key] = index;
                    fresh.Add(index);
                }
                foreach (var (id, isTotal, count) in LinesThrough(revision))
                {
                    lineIds.Add(id);
                    if (!_lines.TryGetValue(id, out var line))
                    {
                        _lines[id] = line = (new SortedSet<string>(StringComparer.Ordinal), isTotal, count);
                    }
                    if (revision.Deleted)
                    {
                        line.Members.Remove(key);
                    }
                    else
                    {
                        line.Members.Add(key);
                    }
                }
            }
            var lines = new List<Line>();
            foreach (var id in lineIds)
            {
                var (members, isTotal, count) = _lines[id];
                int? total = null;
                var parts = new List<int>();
                foreach (var key in members)
                {
                    var index = _current[key];
                    if (isTotal(ordered[index]))
                    {
                        total = index;
                    }
                    else
                    {
                        parts.Add(index);
                    }
                }
                if (total is { } t && parts.Count > 0 && (count is null || parts.Count == count))
                {
                    lines.Add(new Line(id, [t, .. parts]));
                }
            }
            fresh.Sort();
            return (fresh, lines);
        }

        /// <summary>
        /// The lines through a cell, each with the test of its total. Additive: every other dimension (and the period) fixed, the
        /// total the cell with _T there; it holds over the parts present (the worst case: a complete breakdown). Temporal
        /// (<see cref="Rule.Temporal"/>), every dimension fixed: a year with its quarters and with its months, a quarter with its
        /// months, the total the longer period; for a flow every part lies on the line, for a stock only the last one (Q4,
        /// December, a quarter's last month). A temporal line holds once all its parts are present, as the catalogue's
        /// TEMPORAL_CONSISTENCY rule judges it (a year and some of its quarters only bound each other: not modelled).
        /// </summary>
        private IEnumerable<(string Id, Func<Revision, bool> IsTotal, int? Parts)> LinesThrough(Revision revision)
        {
            var cell = revision.Key;
            for (var d = 0; d < Math.Min(rule.Additive.Count, cell.Length); d++)
            {
                if (rule.Additive[d] && cell[d].Length > 0)
                {
                    var rest = (string[])cell.Clone();
                    rest[d] = "*";
                    var dimension = d;
                    yield return ($"{d}|{revision.Period}\u001f{string.Join('\u001f', rest)}", r => r.Key[dimension] == Total, null);
                }
            }
            if (rule.Temporal == TemporalAggregation.NotAggregable || !Period.TryParse(revision.Period, out var period))
            {
                yield break;
            }
            var values = string.Join('\u001f', cell);
            var stock = rule.Temporal == TemporalAggregation.EndOfPeriod;
            var year = new Period(PeriodGranularity.Year, period.Year, 0);
            var lines = new List<(Period Aggregate, PeriodGranularity Parts)>();
            switch (period.Granularity)
            {
                case PeriodGranularity.Year:
                    lines.Add((period, PeriodGranularity.Quarter));
                    lines.Add((period, PeriodGranularity.Month));
                    break;
                case PeriodGranularity.Quarter:
                    lines.Add((period, PeriodGranularity.Month));
                    if (!stock || period.Number == 4)
                    {
                        lines.Add((year, PeriodGranularity.Quarter));
                    }
                    break;
                case PeriodGranularity.Month:
                    if (!stock || period.Number == 12)
                    {
                        lines.Add((year, PeriodGranularity.Month));
                    }
                    if (!stock || period.Number % 3 == 0)
                    {
                        lines.Add((new Period(PeriodGranularity.Quarter, period.Year, (period.Number + 2) / 3), PeriodGranularity.Month));
                    }
                    break;
            }
            foreach (var (aggregate, parts) in lines)
            {
                var whole = aggregate.ToString();
                var count = stock ? 1 : parts == PeriodGranularity.Quarter ? 4 : aggregate.Granularity == PeriodGranularity.Year ? 12 : 3;
                yield return ($"t|{whole}|{parts}\u001f{values}", r => r.Period == whole, count);
            }
        }
    }
}
