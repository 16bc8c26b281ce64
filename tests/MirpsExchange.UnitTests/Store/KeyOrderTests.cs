using Mirps.Log;
using Mirps.Observation.V1;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;

namespace MirpsExchange.UnitTests.Store;

/// <summary>A submit's rows are written in natural key order (SubmitWriter.PreparedRows.KeyOrder), the unique index's order.</summary>
public class KeyOrderTests
{
    private static WriteRow Row(string indicator, string period, string sex, string age, string origin, AddedDimensions added) =>
        new(indicator, "BLZ", period, sex, age, origin, added, default, default, 1, ObservationStatus.Normal, "", default, RowPolicy.SecretariatOnly);

    private static int[] ByComparison(WriteRow[] rows)
    {
        var order = Enumerable.Range(0, rows.Length).ToArray();
        Array.Sort(order, (x, y) => WriteRow.CompareKeys(in rows[x], in rows[y]));
        return order;
    }

    [Fact]
    public void Rows_in_runs_with_repeated_fields_come_in_the_order_a_comparison_sort_gives()
    {
        var random = new Random(5);
        string[] indicators = ["B_IND", "A_IND", "C_IND"], periods = ["2024-02", "2023-12", "2024-01"], sexes = ["_T", "F", "M"];
        string[] ages = ["", "0-4", "18-59", "_T"], origins = ["VEN", "HTI", "_T", "CUB", "NIC"];
        var rows = new List<WriteRow>();
        // Table by table (as clients send), each value a fresh string instance, so equal values are not the same object.
        foreach (var indicator in indicators.OrderBy(_ => random.Next()))
        foreach (var period in periods)
        foreach (var sex in sexes.OrderBy(_ => random.Next()))
        foreach (var age in ages)
        foreach (var origin in origins.OrderBy(_ => random.Next()))
        {
            var added = random.Next(3) == 0 ? new AddedDimensions("NEW", "_T", "_T", "CASES", "_T") : AddedDimensions.Defaults;
            rows.Add(Row(new string(indicator), new string(period), new string(sex), new string(age), new string(origin), added));
        }
        var batch = rows.DistinctBy(r => (r.IndicatorCode, r.Period, r.Sex, r.Age, r.CountryOfOrigin)).ToArray();

        var order = SubmitWriter.PreparedRows.KeyOrder(batch);

        Assert.Equal(ByComparison(batch), order);
    }

    [Fact]
    public void A_batch_whose_ranks_do_not_fit_one_number_is_sorted_by_comparison()
    {
        // 12 fields of 64 distinct values each need 72 bits.
        var random = new Random(9);
        string Code() => $"C{random.Next(64):D2}";
        var batch = Enumerable.Range(0, 2_000)
            .Select(_ => Row(Code(), Code(), Code(), Code(), Code(), new AddedDimensions(Code(), Code(), Code(), Code(), Code())))
            .DistinctBy(r => (r.IndicatorCode, r.Period, r.Sex, r.Age, r.CountryOfOrigin, r.Added))
            .ToArray();

        Assert.Equal(ByComparison(batch), SubmitWriter.PreparedRows.KeyOrder(batch));
    }

    [Fact]
    public void One_row_and_no_row_are_in_order()
    {
        Assert.Empty(SubmitWriter.PreparedRows.KeyOrder([]));
        Assert.Equal([0], SubmitWriter.PreparedRows.KeyOrder([Row("A", "2024", "_T", "", "", AddedDimensions.Defaults)]));
    }
}
