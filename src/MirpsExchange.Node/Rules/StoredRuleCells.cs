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
    /// its values over the stored ones, which are added to <paramref name="cells"/>.
    /// </summary>
    public async Task<List<RuleFinding>> JudgeAsync(DbConnection connection, DbTransaction? transaction, RuleCells cells, CancellationToken cancellationToken)
    {
        var country = cells.Country;
        // Which tables the rules need; a need whose required tables hold nothing judges nothing, so only the
        // tables of needs met are read (an index seek each to ask, then one range read per table).
        var needs = Rules.TablesFor(cells.RequestTables);
        var existing = new HashSet<RuleTable>();
        await using (var exists = PositionalCommand.Create(connection, transaction, $"SELECT 1 FROM {ObservationRowConfiguration.Table} " +
            "WHERE indicator_code = @i AND country = @c AND period = @p AND superseded_time IS NULL AND deleted = 0 AND value IS NOT NULL LIMIT 1", "@i", "@c", "@p"))
        {
            exists.Parameters[1].Value = country;
            foreach (var table in CatalogueRules.ToCheck(needs, cells.RequestTables))
            {
                exists.Parameters[0].Value = table.Indicator;
                exists.Parameters[2].Value = table.Period.ToString();
                if (await exists.ExecuteScalarAsync(cancellationToken) is not null)
                {
                    existing.Add(table);
                }
            }
        }
        await LoadTablesAsync(connection, transaction, cells, CatalogueRules.ToRead(needs, cells.RequestTables, existing), cancellationToken);
        return Rules.Evaluate(cells, requestOnly: true);
    }

    /// <summary>Every current value of <paramref name="country"/> this node may use (not embargoed at <paramref name="nowMicros"/>, value held).</summary>
    public async Task<RuleCells> LoadCountryAsync(DbConnection connection, string country, long nowMicros, CancellationToken cancellationToken)
    {
        var cells = Rules.NewCells(country);
        await using var command = PositionalCommand.Create(connection, null,
            $"SELECT indicator_code, period, {Columns} FROM {ObservationRowConfiguration.Table} " +
            "WHERE country = @c AND superseded_time IS NULL AND deleted = 0 AND value IS NOT NULL AND (release_time IS NULL OR release_time <= @now)",
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

    private static async Task LoadTablesAsync(DbConnection connection, DbTransaction? transaction, RuleCells cells, IEnumerable<RuleTable> tables, CancellationToken cancellationToken)
    {
        await using var command = PositionalCommand.Create(connection, transaction,
            $"SELECT {Columns} FROM {ObservationRowConfiguration.Table} " +
            "WHERE indicator_code = @i AND country = @c AND period = @p AND superseded_time IS NULL AND deleted = 0 AND value IS NOT NULL",
            "@i", "@c", "@p");
        command.Parameters[1].Value = cells.Country;
        foreach (var (indicator, period) in tables)
        {
            command.Parameters[0].Value = indicator;
            command.Parameters[2].Value = period.ToString();
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var dimensions = ReadDimensions(reader, 0);
                cells.AddStored(indicator, period, dimensions, reader.GetDouble(dimensions.Length));
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
