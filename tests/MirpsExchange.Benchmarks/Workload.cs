using Mirps.Observation.V1;
using MirpsExchange.Catalogue;

namespace MirpsExchange.Benchmarks;

/// <summary>
/// Valid observations with distinct keys, in the order a national system produces them: month by
/// month, indicator by indicator, every combination of the dimensions each indicator declares. Values keep
/// the catalogue's ERROR rules, as a State's real tables do: each cell of specific codes gets a random count
/// (0 where the country of origin is the reporting country), and each total is the sum of what it covers.
/// </summary>
public static class Workload
{
    private const string Total = "_T";

    public static List<Observation> Generate(StandardCatalogue catalogue, string country, int count, int firstYear = 2000, int seed = 7)
    {
        var rows = new List<Observation>(count);
        rows.AddRange(Stream(catalogue, country, count, firstYear, seed));
        return rows;
    }

    /// <summary>The same observations as <see cref="Generate"/>, made as they are read (the scale benchmark's tens of millions are never all in memory).</summary>
    public static IEnumerable<Observation> Stream(StandardCatalogue catalogue, string country, long count, int firstYear = 2000, int seed = 7)
    {
        var random = new Random(seed);
        long made = 0;
        var sexes = catalogue.Codelist("CL_SEX").Order(StringComparer.Ordinal).ToArray();
        var ages = catalogue.Codelist("CL_AGE").Order(StringComparer.Ordinal).ToArray();
        var origins = catalogue.Codelist("CL_COUNTRY_OF_ORIGIN").Order(StringComparer.Ordinal).ToArray();
        // Without DECISIONS_TOTAL (catalogue 2.1.0): its tables are drawn apart from the decisions on substance, so with it every
        // submit broke DECISIONS_EQUAL_TOTAL; the decision rules apply only where a State reports the total, so the workload
        // stays the one earlier figures measured (catalogue 2.0's indicators).
        var monthly = catalogue.Catalog.Indicators.Where(i => i.Granularities.Contains(Mirps.Catalog.V1.PeriodGranularity.Month) && i.Code != "DECISIONS_TOTAL").ToList();
        string[] none = [""];
        for (var month = 0; made < count; month++)
        {
            var period = $"{firstYear + month / 12:D4}-{month % 12 + 1:D2}";
            foreach (var indicator in monthly)
            {
                var dims = indicator.DimensionIds;
                string[][] codes = [dims.Contains("SEX") ? sexes : none, dims.Contains("AGE") ? ages : none, dims.Contains("COUNTRY_OF_ORIGIN") ? origins : none];
                var table = new Table(codes, country, random);
                for (var s = 0; s < codes[0].Length; s++)
                for (var a = 0; a < codes[1].Length; a++)
                for (var o = 0; o < codes[2].Length; o++)
                {
                    yield return new Observation
                    {
                        IndicatorCode = indicator.Code,
                        Country = country,
                        Period = period,
                        Sex = codes[0][s],
                        Age = codes[1][a],
                        CountryOfOrigin = codes[2][o],
                        Value = table.Value(s, a, o),
                        Status = ObservationStatus.Normal,
                    };
                    if (++made == count)
                    {
                        yield break;
                    }
                }
            }
        }
    }

    /// <summary>One indicator's month: a random count per cell of specific codes, totals summed from them.</summary>
    private sealed class Table
    {
        private readonly string[][] _codes;
        private readonly double[,,] _leaves;

        public Table(string[][] codes, string country, Random random)
        {
            _codes = codes;
            _leaves = new double[codes[0].Length, codes[1].Length, codes[2].Length];
            for (var s = 0; s < codes[0].Length; s++)
            for (var a = 0; a < codes[1].Length; a++)
            for (var o = 0; o < codes[2].Length; o++)
            {
                _leaves[s, a, o] = codes[0][s] == Total || codes[1][a] == Total || codes[2][o] == Total || codes[2][o] == country ? 0 : random.Next(0, 50_000);
            }
        }

        /// <summary>The cell's count: its own for specific codes; a total adds every code of its dimension.</summary>
        public double Value(int s, int a, int o)
        {
            var sum = 0.0;
            foreach (var ss in Covered(0, s))
            foreach (var aa in Covered(1, a))
            foreach (var oo in Covered(2, o))
            {
                sum += _leaves[ss, aa, oo];
            }
            return sum;
        }

        private IEnumerable<int> Covered(int dimension, int index) =>
            _codes[dimension][index] == Total ? Enumerable.Range(0, _codes[dimension].Length) : [index];
    }
}
