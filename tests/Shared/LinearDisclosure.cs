using System.Numerics;

namespace MirpsExchange.TestShared;

/// <summary>
/// The tests' own solver for disclosure control, independent of the rule's elimination: which withheld values the lines a
/// reader can write down (additive hierarchies, a year against its quarters and months) determine exactly. Linked into the
/// unit and functional tests.
/// </summary>
public static class LinearDisclosure
{
    /// <summary>
    /// The rank of <paramref name="input"/> (rows over the unknowns), by fraction-free elimination over BigInteger, with
    /// column <paramref name="skip"/> left out (-1: none). A value is determined exactly when leaving its column out lowers
    /// the rank: its unit vector lies in the rows' span.
    /// </summary>
    public static int Rank(IReadOnlyList<BigInteger[]> input, int skip = -1)
    {
        var rows = input.Select(r => (BigInteger[])r.Clone()).ToList();
        var columns = rows.Count == 0 ? 0 : rows[0].Length;
        var rank = 0;
        for (var c = 0; c < columns && rank < rows.Count; c++)
        {
            var p = c == skip ? -1 : rows.FindIndex(rank, r => !r[c].IsZero);
            if (p < 0)
            {
                continue;
            }
            (rows[rank], rows[p]) = (rows[p], rows[rank]);
            var pivot = rows[rank];
            for (var r = rank + 1; r < rows.Count; r++)
            {
                var factor = rows[r][c];
                if (factor.IsZero)
                {
                    continue;
                }
                var gcd = BigInteger.Zero;
                for (var k = 0; k < columns; k++)
                {
                    rows[r][k] = (rows[r][k] * pivot[c]) - (pivot[k] * factor);
                    gcd = BigInteger.GreatestCommonDivisor(gcd, rows[r][k]);
                }
                if (gcd > 1)
                {
                    for (var k = 0; k < columns; k++)
                    {
                        rows[r][k] /= gcd;
                    }
                }
            }
            rank++;
        }
        return rank;
    }

    /// <summary>The columns (of <paramref name="unknowns"/>) whose value <paramref name="rows"/> determine.</summary>
    public static IEnumerable<int> Determined(IReadOnlyList<BigInteger[]> rows, int unknowns)
    {
        var rank = Rank(rows);
        return Enumerable.Range(0, unknowns).Where(k => Rank(rows, k) < rank);
    }

    /// <summary>
    /// The temporal lines among the years and quarters of <paramref name="periods"/>: (the longer period, its parts on the
    /// line). A flow's year is the sum of its quarters and of its months, a quarter the sum of its months; a stock's
    /// (<paramref name="stock"/>) year is its fourth quarter and its December, a quarter its last month.
    /// </summary>
    public static IEnumerable<(string Whole, string[] Parts)> TemporalLines(IEnumerable<string> periods, bool stock)
    {
        foreach (var period in periods.ToList())
        {
            if (period.Length == 4)
            {
                string[] quarters = [.. Enumerable.Range(1, 4).Select(q => $"{period}-Q{q}")];
                string[] months = [.. Enumerable.Range(1, 12).Select(m => $"{period}-{m:D2}")];
                yield return (period, stock ? [quarters[^1]] : quarters);
                yield return (period, stock ? [months[^1]] : months);
            }
            else if (period[5] == 'Q')
            {
                var first = (period[6] - '1') * 3 + 1;
                string[] months = [.. Enumerable.Range(first, 3).Select(m => $"{period[..4]}-{m:D2}")];
                yield return (period, stock ? [months[^1]] : months);
            }
        }
    }
}
