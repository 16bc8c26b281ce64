using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Mirps.Catalog.V1;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Node.Store;
using MirpsExchange.Secretariat.Regional;

namespace MirpsExchange.Benchmarks;

/// <summary>
/// The Secretariat's regional sums over a replica of all seven States (--rows observations each, in the
/// node's store created by its migrations), beside a raw SQL GROUP BY over the same rows in the same
/// run: every additive indicator, every cell, every period of one year (the year, its quarters and months).
/// </summary>
public static class RegionalBenchmark
{
    /// <summary>Countries of origin a State reports (most frequent in the region), plus unknown and total.</summary>
    private static readonly string[] Origins =
    [
        "VEN", "HND", "NIC", "SLV", "GTM", "HTI", "CUB", "COL", "ECU", "MEX", "USA", "CRI", "PAN", "BLZ", "DOM",
        "PER", "BRA", "CHN", "IND", "AFG", "CMR", "AGO", "COD", "SEN", "GHA", "ERI", "SOM", "BGD", "NPL", "ARG", "_U", "_T",
    ];

    internal const int Year = 2023;

    public static async Task<int> RunAsync(BenchmarkArgs args)
    {
        var catalogue = StandardCatalogue.LoadStandard();
        var root = Path.Combine(Path.GetTempPath(), "mirps-bench", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        try
        {
            var options = new DbContextOptionsBuilder<NodeDbContext>()
                .UseSqlite($"Data Source={Path.Combine(root, "secretariat.db")}")
                .AddInterceptors(new SqlitePragmas())
                .Options;
            await using (var db = new NodeDbContext(options))
            {
                await db.Database.MigrateAsync();
            }
            var states = catalogue.Catalog.Codelists.First(c => c.Id == StandardCatalogue.ReportingCountryCodelist).Codes.Select(c => c.Id).ToArray();
            Console.WriteLine($"Loading {states.Length} States x ~{args.Rows:N0} observations into the store (not timed)...");
            var load = Stopwatch.StartNew();
            var total = Load(Path.Combine(root, "secretariat.db"), catalogue, states, args.Rows);
            Console.WriteLine($"  {total:N0} rows (current revisions and their superseded history) in {load.Elapsed.TotalSeconds:0.0} s");

            var additive = catalogue.Catalog.Indicators.Where(i => i.Aggregation == AggregationRule.Sum).Select(i => i.Code).ToList();
            var periods = new[] { PeriodGranularity.Year, PeriodGranularity.Quarter, PeriodGranularity.Month }
                .SelectMany(g => RegionalRequests.Within(g, new DateOnly(Year, 1, 1), new DateOnly(Year, 12, 31))).Select(p => p.ToString()).ToList();

            var rounds = Math.Max(args.Rounds, 3);
            var regional = new List<double>();
            var raw = new List<double>();
            var regionalCpu = new List<double>();
            var rawCpu = new List<double>();
            var process = Process.GetCurrentProcess();
            double Cpu() { process.Refresh(); return process.TotalProcessorTime.TotalMilliseconds; }
            int cells = 0, rawCells = 0;
            for (var round = 0; round <= rounds; round++) // round 0 warms up both
            {
                await using (var db = new NodeDbContext(options))
                {
                    var indicators = new RegionalIndicators(new RegionalAggregator(db, catalogue), new ReceiveStamps(TimeProvider.System), db, catalogue);
                    var aggregator = new RegionalAggregator(db, catalogue);
                    var cpu = Cpu();
                    var watch = Stopwatch.StartNew();
                    var sums = await aggregator.SumAsync(additive, periods, CellFilter.All, null, CancellationToken.None);
                    var result = sums.Select(indicators.ToCell).ToList();
                    if (round > 0)
                    {
                        regional.Add(watch.Elapsed.TotalMilliseconds);
                        regionalCpu.Add(Cpu() - cpu);
                    }
                    cells = result.Count;
                }
                var rawCpuStart = Cpu();
                var rawWatch = Stopwatch.StartNew();
                rawCells = RawGroupBy(Path.Combine(root, "secretariat.db"), additive, states, periods);
                if (round > 0)
                {
                    raw.Add(rawWatch.Elapsed.TotalMilliseconds);
                    rawCpu.Add(Cpu() - rawCpuStart);
                }
            }
            static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
            var (median, rawMedian) = (Median(regional), Median(raw));
            Console.WriteLine($"Regional sums of {additive.Count} additive indicators x {periods.Count} periods of {Year} x every cell ({cells:N0} cells; raw: {rawCells:N0}), medians of {rounds}:");
            // CPU time beside wall time: on a shared machine the wall clock measures the neighbours too.
            Console.WriteLine($"  raw SQL GROUP BY (SUM only, plain ADO.NET):           {rawMedian,8:N0} ms wall {Median(rawCpu),8:N0} ms CPU");
            Console.WriteLine($"  RegionalAggregator + cells (who reported, flags):     {median,8:N0} ms wall {Median(regionalCpu),8:N0} ms CPU");
            Console.WriteLine($"  ratio regional / raw:                                 {median / rawMedian,8:0.00} wall {Median(regionalCpu) / Median(rawCpu),8:0.00} CPU   (goal <= 2.00 and < 2,000 ms)");
            return cells == rawCells ? 0 : 1;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>The baseline: the same rows, the same index seeks, the sum only, rows read into tuples.</summary>
    private static int RawGroupBy(string path, List<string> indicators, string[] states, List<string> periods)
    {
        using var connection = new SqliteConnection($"Data Source={path}");
        connection.Open();
        SqlitePragmas.Apply(connection);
        using var command = connection.CreateCommand();
        string In(string prefix, IReadOnlyList<string> values)
        {
            for (var i = 0; i < values.Count; i++)
            {
                command.Parameters.AddWithValue($"{prefix}{i}", values[i]);
            }
            return string.Join(", ", values.Select((_, i) => $"{prefix}{i}"));
        }
        command.CommandText = $"""
            SELECT indicator_code, period, sex, age, country_of_origin,
                   application_type, decision_level, procedure_type, count_basis, country_of_destination, SUM(value) FROM observations
            WHERE indicator_code IN ({In("@i", indicators)}) AND country IN ({In("@c", states)}) AND period IN ({In("@p", periods)})
              AND superseded_time IS NULL AND deleted = 0 AND value_withheld = 0
            GROUP BY indicator_code, period, sex, age, country_of_origin,
                     application_type, decision_level, procedure_type, count_basis, country_of_destination
            """;
        // The same cells as the aggregator's: catalogue 2.0's dimensions are part of a cell (never added across).
        var rows = new List<(string, string, string, string, string, Mirps.Log.AddedDimensions, double)>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                new Mirps.Log.AddedDimensions(reader.GetString(5), reader.GetString(6), reader.GetString(7), reader.GetString(8), reader.GetString(9)), reader.GetDouble(10)));
        }
        return rows.Count;
    }

    /// <summary>
    /// Every State's observations, written by plain SQL in key order (loading is not what is measured):
    /// whole years back from the measured year until each State holds about <paramref name="perState"/> current values,
    /// every indicator at every granularity it accepts and every combination of its dimensions; one key in
    /// 20 also carries a superseded first revision, 5% of values are provisional and 2% estimated.
    /// </summary>
    internal static long Load(string path, StandardCatalogue catalogue, string[] states, int perState)
    {
        string[] none = [""];
        var sexes = catalogue.DimensionCodes(StandardCatalogue.SexDimension).Order(StringComparer.Ordinal).ToArray();
        var ages = catalogue.DimensionCodes(StandardCatalogue.AgeDimension).Order(StringComparer.Ordinal).ToArray();
        var origins = Origins.Order(StringComparer.Ordinal).ToArray();
        var indicators = catalogue.Catalog.Indicators.OrderBy(i => i.Code, StringComparer.Ordinal).ToList();
        int Cells(Indicator i) => (i.DimensionIds.Contains("SEX") ? sexes.Length : 1) * (i.DimensionIds.Contains("AGE") ? ages.Length : 1)
            * (i.DimensionIds.Contains("COUNTRY_OF_ORIGIN") ? origins.Length : 1);
        var perYear = indicators.Sum(i => Cells(i) * i.Granularities.Sum(g => g switch { PeriodGranularity.Quarter => 4, PeriodGranularity.Month => 12, _ => 1 }));
        var years = Math.Max(1, (int)Math.Round((double)perState / perYear));
        var periodsByGranularity = new[] { PeriodGranularity.Year, PeriodGranularity.Quarter, PeriodGranularity.Month }.ToDictionary(g => g,
            g => RegionalRequests.Within(g, new DateOnly(Year - years + 1, 1, 1), new DateOnly(Year, 12, 31)));

        using var connection = new SqliteConnection($"Data Source={path}");
        connection.Open();
        SqlitePragmas.Apply(connection);
        using var insert = connection.CreateCommand();
        insert.CommandText = """
            INSERT INTO observations (origin, origin_sequence, indicator_code, country, period, sex, age, country_of_origin,
                period_start, period_end, value, status, note, revision, deleted, recorded_time, superseded_time)
            VALUES (@c, @seq, @i, @c, @p, @s, @a, @o, @start, @end, @value, @status, '', @rev, 0, @time, @superseded)
            """;
        var p = new[] { "@c", "@seq", "@i", "@p", "@s", "@a", "@o", "@start", "@end", "@value", "@status", "@rev", "@time", "@superseded" }
            .ToDictionary(n => n, n => insert.Parameters.Add(new SqliteParameter { ParameterName = n }));
        var random = new Random(7);
        var sequences = states.ToDictionary(s => s, _ => 0L);
        var transaction = connection.BeginTransaction();
        insert.Transaction = transaction;
        long written = 0;
        var time = DateTimeOffset.UtcNow.AddDays(-30).ToUnixTimeMilliseconds() * 1000;

        void Write(string country, Indicator indicator, Period period, string sex, string age, string origin, long revision, long? superseded)
        {
            p["@c"].Value = country;
            p["@seq"].Value = ++sequences[country];
            p["@i"].Value = indicator.Code;
            p["@p"].Value = period.ToString();
            p["@s"].Value = sex;
            p["@a"].Value = age;
            p["@o"].Value = origin;
            p["@start"].Value = period.Start;
            p["@end"].Value = period.End;
            p["@value"].Value = (double)random.Next(0, 50_000);
            var roll = random.Next(100);
            p["@status"].Value = (int)(roll < 5 ? ObservationStatus.Provisional : roll < 7 ? ObservationStatus.Estimated : ObservationStatus.Normal);
            p["@rev"].Value = revision;
            p["@time"].Value = time + written;
            p["@superseded"].Value = superseded is { } s ? s : DBNull.Value;
            insert.ExecuteNonQuery();
            if (++written % 100_000 == 0)
            {
                transaction.Commit();
                transaction = connection.BeginTransaction();
                insert.Transaction = transaction;
            }
        }

        // Key order: indicator, country, period, sex, age, origin (the unique index's order).
        foreach (var indicator in indicators)
        foreach (var country in states.Order(StringComparer.Ordinal))
        foreach (var period in indicator.Granularities.SelectMany(g => periodsByGranularity[g]).OrderBy(x => x.ToString(), StringComparer.Ordinal))
        foreach (var sex in indicator.DimensionIds.Contains("SEX") ? sexes : none)
        foreach (var age in indicator.DimensionIds.Contains("AGE") ? ages : none)
        foreach (var origin in indicator.DimensionIds.Contains("COUNTRY_OF_ORIGIN") ? origins : none)
        {
            if (written % 20 == 0)
            {
                Write(country, indicator, period, sex, age, origin, 1, time + written + 1);
                Write(country, indicator, period, sex, age, origin, 2, null);
            }
            else
            {
                Write(country, indicator, period, sex, age, origin, 1, null);
            }
        }
        transaction.Commit();
        transaction.Dispose();
        return written;
    }
}
