using System.Data.Common;
using Google.Protobuf.Collections;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Catalogue.Validation.Rules;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Rules;

/// <summary>
/// The catalogue's validation rules over the store: a request's observations judged over the current values of
/// the tables the rules need (read table by table, one statement each, on the caller's connection and, for a
/// submit, inside its write transaction), or every current value of a State (the Secretariat's report).
/// </summary>
public sealed class StoredRuleCells(StandardCatalogue catalogue)
{
    private static readonly string Columns = string.Join(", ", ObservationDimensionFields.ColumnNames) + ", value";

    public CatalogueRules Rules { get; } = new(catalogue);

    /// <summary>The request's observations as the rules read them (done before the write gate: it needs nothing stored).</summary>
    /// <param name="dimensions">Each observation's catalogue 2.0 dimensions as stored (a declared one sent empty at its default), from the validation.</param>
    public RuleCells RequestCells(string country, RepeatedField<Observation> observations, Period[] periods, Mirps.Log.AddedDimensions[] dimensions)
    {
        var cells = Rules.NewCells(country);
        for (var i = 0; i < observations.Count; i++)
        {
            var o = observations[i];
            cells.AddRequest(o.IndicatorCode, periods[i], ObservationDimensionFields.Values(o, dimensions[i]), o.Value, i);
        }
        return cells;
    }

    /// <summary>
    /// The broken rules that involve an observation of the request (<paramref name="cells"/>, from <see cref="RequestCells"/>),
    /// its values over the stored ones, which are added to <paramref name="cells"/>. A submit passes <paramref name="written"/>:
    /// the tables its predecessor left are taken from there rather than read, and those this one leaves are handed to it
    /// (<paramref name="cells"/> is spent then: its request's cells become stored ones).
    /// </summary>
    public async Task<List<RuleFinding>> JudgeAsync(DbConnection connection, DbTransaction? transaction, RuleCells cells, CancellationToken cancellationToken,
        WrittenRuleTables.Session? written = null) =>
        (await ReadAsync(connection, transaction, cells, cancellationToken, written))();

    /// <summary>
    /// <see cref="JudgeAsync"/> in two steps: this reads what the rules compare with (on <paramref name="connection"/>, in
    /// <paramref name="transaction"/>), and the function it returns judges, in memory only: it touches no connection, so a
    /// submit runs it on another thread while its rows are inserted (<see cref="Store.SubmitWriter"/>), before it commits.
    /// </summary>
    public async Task<Func<List<RuleFinding>>> ReadAsync(DbConnection connection, DbTransaction? transaction, RuleCells cells, CancellationToken cancellationToken,
        WrittenRuleTables.Session? written = null)
    {
        var country = cells.Country;
        // Which tables the rules need; a need whose required tables hold nothing judges nothing, so only the
        // tables of needs met are read (an index seek each to ask, then one range read per table).
        var needs = Rules.TablesFor(cells.RequestTables);
        var existing = new HashSet<RuleTable>();
        var checkedEmpty = new List<RuleTable>();
        await using (var exists = PositionalCommand.Create(connection, transaction, $"SELECT 1 FROM {ObservationRowConfiguration.Table} " +
            "WHERE indicator_code = @i AND country = @c AND period = @p AND superseded_time IS NULL AND deleted = FALSE AND value IS NOT NULL LIMIT 1", "@i", "@c", "@p"))
        {
            exists.Parameters[1].Value = country;
            foreach (var table in CatalogueRules.ToCheck(needs, cells.RequestTables))
            {
                bool holds;
                if (written is not null && written.TryFind(table, out var known))
                {
                    holds = known.Exists;
                }
                else
                {
                    exists.Parameters[0].Value = table.Indicator;
                    exists.Parameters[2].Value = table.Period.ToString();
                    holds = await exists.ExecuteScalarAsync(cancellationToken) is not null;
                }
                if (holds)
                {
                    existing.Add(table);
                }
                else
                {
                    checkedEmpty.Add(table);
                }
            }
        }
        var toRead = CatalogueRules.ToRead(needs, cells.RequestTables, existing);
        var held = new HashSet<RuleTable>();
        var fromStore = new List<RuleTable>();
        foreach (var table in toRead)
        {
            if (written is not null && written.TryFind(table, out var known))
            {
                if (known.Exists)
                {
                    held.Add(table);
                }
                if (known.Cells is { } stored)
                {
                    cells.AddStored(table, stored);
                }
            }
            else
            {
                fromStore.Add(table);
            }
        }
        await LoadTablesAsync(connection, transaction, cells, fromStore, held, cancellationToken);
        return () =>
        {
            var findings = Rules.Evaluate(cells, requestOnly: true);
            if (written is not null)
            {
                // Each table read (whole) and each found empty, as the store holds it once the request is written.
                var tables = cells.Written();
                foreach (var table in toRead)
                {
                    written.Leave(table, new WrittenRuleTables.Table(held.Contains(table) || cells.RequestTables.Contains(table), tables.GetValueOrDefault(table)));
                }
                foreach (var table in checkedEmpty)
                {
                    if (!toRead.Contains(table))
                    {
                        written.Leave(table, new WrittenRuleTables.Table(false, null));
                    }
                }
            }
            return findings;
        };
    }

    /// <summary>Every current value of <paramref name="country"/> this node may use (not embargoed at <paramref name="nowMicros"/>, value held).</summary>
    public async Task<RuleCells> LoadCountryAsync(DbConnection connection, string country, long nowMicros, CancellationToken cancellationToken)
    {
        var cells = Rules.NewCells(country);
        await using var command = PositionalCommand.Create(connection, null,
            $"SELECT indicator_code, period, {Columns} FROM {ObservationRowConfiguration.Table} " +
            "WHERE country = @c AND superseded_time IS NULL AND deleted = FALSE AND value IS NOT NULL AND (release_time IS NULL OR release_time <= @now)",
            "@c", "@now");
        command.Parameters[0].Value = country;
        command.Parameters[1].Value = nowMicros;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var dimensions = ReadDimensions(reader, 2);
            cells.AddStored(reader.GetString(0), Period.Parse(reader.GetString(1)), dimensions, reader.GetDouble(2 + dimensions.Length));
        }
        return cells;
    }

    /// <summary>Reads each table's current values into <paramref name="cells"/>; a table holding any (judged or not) is added to <paramref name="held"/>.</summary>
    private static async Task LoadTablesAsync(DbConnection connection, DbTransaction? transaction, RuleCells cells, IEnumerable<RuleTable> tables, HashSet<RuleTable> held, CancellationToken cancellationToken)
    {
        await using var command = PositionalCommand.Create(connection, transaction,
            $"SELECT {Columns} FROM {ObservationRowConfiguration.Table} " +
            "WHERE indicator_code = @i AND country = @c AND period = @p AND superseded_time IS NULL AND deleted = FALSE AND value IS NOT NULL",
            "@i", "@c", "@p");
        command.Parameters[1].Value = cells.Country;
        foreach (var (indicator, period) in tables)
        {
            command.Parameters[0].Value = indicator;
            command.Parameters[2].Value = period.ToString();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var any = false;
            while (await reader.ReadAsync(cancellationToken))
            {
                var dimensions = ReadDimensions(reader, 0);
                cells.AddStored(indicator, period, dimensions, reader.GetDouble(dimensions.Length));
                any = true;
            }
            if (any)
            {
                held.Add(new RuleTable(indicator, period));
            }
        }
    }

    private static string[] ReadDimensions(DbDataReader reader, int first)
    {
        var dimensions = new string[ObservationDimensionFields.Count];
        for (var d = 0; d < dimensions.Length; d++)
        {
            dimensions[d] = reader.GetString(first + d);
        }
        return dimensions;
    }
}
