using Microsoft.Data.Sqlite;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// A node's start-up costs the same on a store of fifty million observations as on an empty one: every read of the
/// change log's tables at start is a seek, never a scan (issue 16's scale benchmark found a start-up that read the whole
/// log: the latest received time by scanning the observations, and the catalogue's dimension defaults walking every
/// row of the declaring indicators at every start).
/// </summary>
public class StartUpCostTests
{
    /// <summary>The tables that grow with the log, a row per change.</summary>
    private static readonly string[] LogTables = ["observations", "withheld_changes"];

    [Fact]
    public async Task A_restart_reads_the_logs_tables_only_through_seeks_and_rewrites_no_row()
    {
        var folder = TempFolder.Create();
        try
        {
            var store = Path.Combine(folder, "store.db");
            await using (var first = await TestNode.StartAsync("GTM", null, ShareWithAll))
            {
                foreach (var batch in DistinctRefugees(3_000, "GTM").Chunk(1_000))
                {
                    await first.Observations.SubmitObservationsAsync(Submit(batch));
                }
                first.CopyStoreTo(store);
            }

            using var commands = new StoreCommands();
            await using var restarted = await TestNode.StartOnStoreAsync(store, data => commands.Watch(Path.Combine(data, "node-gtm.db")), "GTM", null, ShareWithAll);
            var taken = commands.Taken();
            Assert.Contains(taken, c => c.Text.Contains("received_time", StringComparison.Ordinal)); // the start's reads were seen

            using var connection = new SqliteConnection($"Data Source={restarted.DatabasePath};Pooling=False");
            connection.Open();
            var problems = new List<string>();
            foreach (var (text, parameters) in taken.Where(c => LogTables.Any(t => c.Text.Contains(t, StringComparison.Ordinal))))
            {
                if (text.TrimStart().StartsWith("UPDATE", StringComparison.OrdinalIgnoreCase))
                {
                    problems.Add($"a restart on the same catalogue rewrites rows: {text}");
                }
                using var explain = connection.CreateCommand();
                explain.CommandText = "EXPLAIN QUERY PLAN " + text;
                foreach (var (name, value) in parameters)
                {
                    explain.Parameters.AddWithValue(name, value ?? DBNull.Value);
                }
                using var plan = explain.ExecuteReader();
                while (plan.Read())
                {
                    // A seek reads "SEARCH o USING ... INDEX ..." (o: EF Core's alias), a MAX of an indexed column too. "SCAN o" reads
                    // the table whole, "SCAN o USING ... INDEX" an index whole, and a MAX of a column no index holds reads "SEARCH o"
                    // with no index (SQLite's min/max step over every row): on these tables, all of them grow with the log.
                    var detail = plan.GetString(3);
                    if ((detail.StartsWith("SCAN ", StringComparison.Ordinal) && !detail.StartsWith("SCAN CONSTANT ROW", StringComparison.Ordinal))
                        || (detail.StartsWith("SEARCH ", StringComparison.Ordinal) && !detail.Contains(" USING ", StringComparison.Ordinal)))
                    {
                        problems.Add($"{detail}: {text}");
                    }
                }
            }
            Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }
}
