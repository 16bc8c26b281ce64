using Microsoft.EntityFrameworkCore;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;

namespace MirpsExchange.UnitTests.Sharing;

/// <summary>
/// The rows of a table (indicator, country, year) are read for the complementary withholdings of every answer that reaches
/// it. A store has no statistics (no ANALYZE), so SQLite's choice of index depends on the query alone: compared as a column,
/// the origin sent SQLite down the primary key (origin, sequence), through every row of the origin (0.5-0.9 s on a replica
/// of 1 M rows, for every history answer after each commit).
/// </summary>
public class ComplementaryWithholdingPlanTests
{
    [Fact]
    public async Task A_table_s_rows_are_read_through_the_key_index_not_every_row_of_the_origin()
    {
        var folder = Directory.CreateTempSubdirectory("mirps-plan-");
        try
        {
            await using var db = new NodeDbContext(StoreExtensions.Options($"Data Source={Path.Combine(folder.FullName, "node.db")};Pooling=false"));
            await db.Database.MigrateAsync();
            var table = ComplementaryWithholding.Table.Of("REFUGEES", "BLZ", "2023");

            foreach (var query in new[] { ComplementaryWithholding.RowsOf(db.Observations, table), ComplementaryWithholding.WithheldFrom(ComplementaryWithholding.RowsOf(db.Observations, table), Reader.State("CRI"), 0) })
            {
                await using var command = query.CreateDbCommand();
                command.CommandText = "EXPLAIN QUERY PLAN " + command.CommandText;
                await db.Database.OpenConnectionAsync();
                var plan = new List<string>();
                await using (var reader = await command.ExecuteReaderAsync())
                {
                    while (await reader.ReadAsync())
                    {
                        plan.Add(reader.GetString(3));
                    }
                }
                await db.Database.CloseConnectionAsync();
                var searches = plan.Where(line => line.StartsWith("SEARCH", StringComparison.Ordinal) || line.StartsWith("SCAN", StringComparison.Ordinal)).ToList();
                Assert.NotEmpty(searches);
                Assert.All(searches, line => Assert.Contains("USING INDEX ux_observations_key_revision (indicator_code=? AND country=? AND period=?)", line));
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            folder.Delete(recursive: true);
        }
    }
}
