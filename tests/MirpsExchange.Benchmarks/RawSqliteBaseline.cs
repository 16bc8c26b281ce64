using Microsoft.Data.Sqlite;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue.Periods;

namespace MirpsExchange.Benchmarks;

/// <summary>
/// The baseline: the same rows inserted by plain parameterized SQL into a table with the node's columns
/// and the same unique key, each batch sorted by that key and written in one transaction of the same size,
/// with the node's pragmas. No gRPC, no validation, no revision look-ups, no change-log key.
/// </summary>
public static class RawSqliteBaseline
{
    /// <summary>Inserts <paramref name="warmup"/> (not timed), then <paramref name="rows"/>; returns the time the latter took.</summary>
    public static TimeSpan Insert(string path, IReadOnlyList<Observation> warmup, IReadOnlyList<Observation> rows, int batchSize)
    {
        using var connection = new SqliteConnection($"Data Source={path}");
        connection.Open();
        Execute(connection, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-131072; PRAGMA temp_store=MEMORY;");
        Execute(connection, """
            CREATE TABLE baseline (
                origin TEXT NOT NULL, origin_sequence INTEGER NOT NULL, indicator_code TEXT NOT NULL, country TEXT NOT NULL,
                period TEXT NOT NULL, sex TEXT NOT NULL, age TEXT NOT NULL, country_of_origin TEXT NOT NULL,
                period_start TEXT NOT NULL, period_end TEXT NOT NULL, revision INTEGER NOT NULL, value REAL NULL,
                status INTEGER NOT NULL, note TEXT NOT NULL, deleted INTEGER NOT NULL, recorded_time INTEGER NOT NULL, superseded_time INTEGER NULL);
            CREATE UNIQUE INDEX ux_baseline_key ON baseline (indicator_code, country, period, sex, age, country_of_origin, revision);
            """);
        using var insert = connection.CreateCommand();
        insert.CommandText = """
            INSERT INTO baseline VALUES (@origin, @seq, @i, @c, @p, @s, @a, @o, @start, @end, 1, @value, @status, @note, 0, @now, NULL)
            """;
        var names = new[] { "@origin", "@seq", "@i", "@c", "@p", "@s", "@a", "@o", "@start", "@end", "@value", "@status", "@note", "@now" };
        var parameters = names.ToDictionary(n => n, n => insert.Parameters.Add(new SqliteParameter { ParameterName = n }));
        long sequence = 0;
        InsertBatches(warmup);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        InsertBatches(rows);
        return watch.Elapsed;

        void InsertBatches(IReadOnlyList<Observation> source)
        {
            for (var start = 0; start < source.Count; start += batchSize)
            {
                var batch = source.Skip(start).Take(batchSize).ToArray();
                Array.Sort(batch, CompareKeys);
                using var transaction = connection.BeginTransaction();
                insert.Transaction = transaction;
                parameters["@now"].Value = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
                foreach (var o in batch)
                {
                    var period = Period.Parse(o.Period);
                    parameters["@origin"].Value = o.Country;
                    parameters["@seq"].Value = ++sequence;
                    parameters["@i"].Value = o.IndicatorCode;
                    parameters["@c"].Value = o.Country;
                    parameters["@p"].Value = o.Period;
                    parameters["@s"].Value = o.Sex;
                    parameters["@a"].Value = o.Age;
                    parameters["@o"].Value = o.CountryOfOrigin;
                    parameters["@start"].Value = period.Start;
                    parameters["@end"].Value = period.End;
                    parameters["@value"].Value = o.Value;
                    parameters["@status"].Value = (int)o.Status;
                    parameters["@note"].Value = o.Note;
                    insert.ExecuteNonQuery();
                }
                transaction.Commit();
            }
        }
    }

    private static int CompareKeys(Observation x, Observation y)
    {
        var c = string.CompareOrdinal(x.IndicatorCode, y.IndicatorCode);
        if (c == 0) c = string.CompareOrdinal(x.Country, y.Country);
        if (c == 0) c = string.CompareOrdinal(x.Period, y.Period);
        if (c == 0) c = string.CompareOrdinal(x.Sex, y.Sex);
        if (c == 0) c = string.CompareOrdinal(x.Age, y.Age);
        if (c == 0) c = string.CompareOrdinal(x.CountryOfOrigin, y.CountryOfOrigin);
        return c;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
