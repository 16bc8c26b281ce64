using Google.Protobuf.WellKnownTypes;
using Mirps.Catalog.V1;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Validation;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;
using MirpsExchange.TestShared;
using MirpsExchange.Node.Sync;
using Revision = MirpsExchange.Node.Sharing.ComplementarySuppression.Revision;

namespace MirpsExchange.UnitTests.Sharing;

/// <summary>The complementary suppression rule on hand-made tables, and the replica's check of it.</summary>
public class ComplementarySuppressionTests
{
    private static readonly StandardCatalogue Catalogue = StandardCatalogue.LoadStandard();
    private static readonly bool[] SexOnly = [true, false, false];

    /// <summary>A revision of REFUGEES's cell (sex, _T, _T) at commit time <paramref name="time"/>.</summary>
    private static Revision Cell(long sequence, long time, string sex, bool withheld = false, bool deleted = false) =>
        new(sequence, time, [sex, "_T", "_T"], deleted, withheld);

    [Fact]
    public void With_F_127_and_M_3_withheld_the_rule_withholds_a_sibling_so_M_is_not_total_minus_F()
    {
        // Sequences in key order, as an origin writes a commit: F, M, _T.
        var complements = ComplementarySuppression.Complements([Cell(1, 10, "F"), Cell(2, 10, "M", withheld: true), Cell(3, 10, "_T")], SexOnly);

        Assert.Equal([1L], complements); // F, a breakdown, rather than the total
    }

    [Fact]
    public void A_table_with_nothing_withheld_or_without_a_total_needs_no_complement()
    {
        Assert.Empty(ComplementarySuppression.Complements([Cell(1, 10, "F"), Cell(2, 10, "M"), Cell(3, 10, "_T")], SexOnly));
        Assert.Empty(ComplementarySuppression.Complements([Cell(1, 10, "F"), Cell(2, 10, "M", withheld: true)], SexOnly));
        Assert.Empty(ComplementarySuppression.Complements([Cell(1, 10, "F"), Cell(2, 10, "M", withheld: true), Cell(3, 10, "_T")], [false, false, false]));
    }

    [Fact]
    public void Additive_dimensions_are_the_declared_ones_with_a_total_of_an_indicator_that_adds_up()
    {
        // Sex, age and country of origin first (StandardCatalogue.ObservationDimensions); catalogue 2.0 adds more after them.
        Assert.Equal([true, true, true], ComplementarySuppression.AdditiveDimensions(Catalogue, "REFUGEES")[..3]);
        Assert.Equal([true, true, false], ComplementarySuppression.AdditiveDimensions(Catalogue, "IDPS")[..3]);
        Assert.DoesNotContain(true, ComplementarySuppression.AdditiveDimensions(Catalogue, "MEDIAN_PROCESSING_DAYS")); // a median does not add up
    }

    [Fact]
    public void A_revision_made_small_is_protected_by_a_revision_of_the_same_commit_never_by_one_already_served()
    {
        // Commit 10: F 127, M 5, _T 132, all served. Commit 20: M 2 (small) and _T 129; F's 127 was served already.
        var complements = ComplementarySuppression.Complements(
            [Cell(1, 10, "F"), Cell(2, 10, "M"), Cell(3, 10, "_T"), Cell(4, 20, "M", withheld: true), Cell(5, 20, "_T")], SexOnly);

        Assert.Equal([5L], complements);
    }

    [Fact]
    public void A_complement_stays_withheld_and_later_commits_protect_the_old_withheld_value_too()
    {
        // Commit 10: M small, F its complement. Commit 20: F and _T revised, M unchanged: served, F' and _T' give M = _T' - F'.
        var complements = ComplementarySuppression.Complements(
            [Cell(1, 10, "F"), Cell(2, 10, "M", withheld: true), Cell(3, 10, "_T"), Cell(4, 20, "F"), Cell(5, 20, "_T")], SexOnly);

        Assert.Equal([1L, 4L], complements.Order());
    }

    [Fact]
    public void In_two_dimensions_one_complement_per_line_is_not_enough_and_the_rule_withholds_until_nothing_is_determined()
    {
        // Sex x age, every cell present: a withheld (F, Y0T4) needs complements on its sex line and its age line, and those
        // need more, until the withheld cells form a pattern no combination of lines isolates.
        var revisions = new List<Revision>();
        var sequence = 0L;
        foreach (var sex in new[] { "F", "M", "_T" })
        {
            foreach (var age in new[] { "Y0T4", "Y5T11", "_T" })
            {
                revisions.Add(new(++sequence, 10, [sex, age, "_T"], false, sex == "F" && age == "Y0T4"));
            }
        }
        var complements = ComplementarySuppression.Complements(revisions, [true, true, false]);

        Assert.True(complements.Count >= 3, $"withheld {complements.Count}");
        var withheld = revisions.Where(r => r.Withheld || complements.Contains(r.Sequence)).Select(r => r.Key).ToList();
        Assert.Empty(DeterminedAmong(withheld, revisions.Select(r => r.Key).ToList()));
    }

    [Fact]
    public void The_rule_reads_keys_and_the_pattern_only_whatever_the_order_rows_come_in()
    {
        var random = new Random(13);
        var revisions = new List<Revision>();
        var sequence = 0L;
        foreach (var sex in new[] { "F", "M", "_T" })
        {
            foreach (var age in new[] { "Y0T4", "Y5T11", "Y18T59", "_T" })
            {
                foreach (var origin in new[] { "VEN", "NIC", "_T" })
                {
                    revisions.Add(new(++sequence, 10, [sex, age, origin], false, sex != "_T" && age != "_T" && origin != "_T" && random.Next(6) == 0));
                }
            }
        }
        var expected = ComplementarySuppression.Complements(revisions, [true, true, true]);
        var shuffled = revisions.OrderBy(_ => random.Next()).ToList();

        Assert.Equal(expected.Order(), ComplementarySuppression.Complements(shuffled, [true, true, true]).Order());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void Random_tables_revised_over_several_commits_leave_no_withheld_revision_determined(int seed)
    {
        // Sex x age x origin counts, about one in four small, then revised three times: each commit a consistent table
        // (the changed counts and the totals over them), as an origin writes it.
        var random = new Random(seed);
        string[][] codes = [["F", "M"], ["Y0T4", "Y12T17", "Y18T59"], new[] { "VEN", "NIC", "HTI", "_U" }[..(2 + (seed % 3))]];
        var leaves = new Dictionary<string, int>();
        foreach (var sex in codes[0])
        {
            foreach (var age in codes[1])
            {
                foreach (var origin in codes[2])
                {
                    leaves[$"{sex}|{age}|{origin}"] = Count();
                }
            }
        }
        var revisions = new List<Revision>();
        var current = new Dictionary<string, (int Value, long Revision)>();
        var states = new List<List<(string[] Cell, long Sequence)>>();
        for (var commit = 0; commit < 4; commit++)
        {
            if (commit > 0)
            {
                var keys = leaves.Keys.Order().ToList();
                for (var i = 0; i < 2; i++)
                {
                    leaves[keys[random.Next(keys.Count)]] = Count();
                }
            }
            foreach (var sex in codes[0].Append("_T"))
            {
                foreach (var age in codes[1].Append("_T"))
                {
                    foreach (var origin in codes[2].Append("_T"))
                    {
                        string[] cell = [sex, age, origin];
                        var value = leaves.Where(l => l.Key.Split('|').Select((code, d) => cell[d] == "_T" || cell[d] == code).All(match => match)).Sum(l => l.Value);
                        var key = string.Join('|', cell);
                        if (current.TryGetValue(key, out var held) && held.Value == value)
                        {
                            continue;
                        }
                        var sequence = revisions.Count + 1L;
                        revisions.Add(new(sequence, commit, cell, false, value is >= 1 and < 5));
                        current[key] = (value, sequence);
                    }
                }
            }
            states.Add([.. current.Select(c => (c.Key.Split('|'), c.Value.Revision))]);
        }

        var complements = ComplementarySuppression.Complements(revisions, [true, true, true]);

        var withheld = revisions.Where(r => r.Withheld || complements.Contains(r.Sequence)).Select(r => r.Sequence).ToList();
        Assert.Empty(DeterminedOverStates(states, withheld));
        // Cell by cell, something is given away: the test can fail.
        Assert.NotEmpty(DeterminedOverStates(states, [.. revisions.Where(r => r.Withheld).Select(r => r.Sequence)]));

        int Count() => random.Next(4) == 0 ? random.Next(1, 5) : random.Next(5, 200);
    }

    [Fact]
    public void A_flows_year_and_three_quarters_served_do_not_give_its_fourth_quarter_away()
    {
        // RETURNED_REFUGEES, a flow: 2023 = Q1 + Q2 + Q3 + Q4, so a withheld Q4 of 3 is the year minus the three others.
        Revision Flow(long sequence, string period, bool withheld = false) => new(sequence, 10, ["_T", "_T"], false, withheld, period);
        Revision[] revisions = [Flow(1, "2023"), Flow(2, "2023-Q1"), Flow(3, "2023-Q2"), Flow(4, "2023-Q3"), Flow(5, "2023-Q4", withheld: true)];

        Assert.Empty(ComplementarySuppression.Complements(revisions, [true, true])); // one period at a time: given away
        Assert.Equal([2L], ComplementarySuppression.Complements(revisions, ComplementarySuppression.RuleOf(Catalogue, "RETURNED_REFUGEES"))); // a quarter, not the year
        // A median's periods do not add up: nothing to protect across them.
        Assert.Empty(ComplementarySuppression.Complements(revisions, ComplementarySuppression.RuleOf(Catalogue, "MEDIAN_PROCESSING_DAYS")));
    }

    [Fact]
    public void A_stocks_year_is_its_last_quarter_and_its_December_and_its_other_quarters_say_nothing_of_it()
    {
        // IDPS, a stock: 2023 = 2023-Q4 = 2023-12. A Q4 withheld (for a reason of its own) is served as the year unless the year
        // is withheld too; Q1 to Q3 are not on the year's line.
        Revision Stock(long sequence, string period, bool withheld = false) => new(sequence, 10, ["_T", "_T"], false, withheld, period);
        var rule = ComplementarySuppression.RuleOf(Catalogue, "IDPS");
        Assert.Equal(TemporalAggregation.EndOfPeriod, rule.Temporal);

        Assert.Equal([1L, 6L], ComplementarySuppression.Complements(
            [Stock(1, "2023"), Stock(2, "2023-Q1"), Stock(3, "2023-Q2"), Stock(4, "2023-Q3"), Stock(5, "2023-Q4", withheld: true), Stock(6, "2023-12")], rule).Order());
        Assert.Empty(ComplementarySuppression.Complements([Stock(1, "2023"), Stock(2, "2023-Q1", withheld: true), Stock(3, "2023-Q4")], rule));
    }

    [Theory]
    [InlineData("RETURNED_REFUGEES", 1)]
    [InlineData("RETURNED_REFUGEES", 2)]
    [InlineData("RETURNED_REFUGEES", 3)]
    [InlineData("RETURNED_REFUGEES", 4)]
    [InlineData("RETURNED_REFUGEES", 5)]
    [InlineData("RETURNED_REFUGEES", 6)]
    [InlineData("IDPS", 1)]
    [InlineData("IDPS", 2)]
    [InlineData("IDPS", 3)]
    [InlineData("IDPS", 4)]
    [InlineData("IDPS", 5)]
    [InlineData("IDPS", 6)]
    public void Random_years_with_their_quarters_and_months_leave_no_withheld_revision_determined(string indicator, int seed)
    {
        var (revisions, states, temporal) = GeneratedYear(indicator, seed);

        var complements = ComplementarySuppression.Complements(revisions, ComplementarySuppression.RuleOf(Catalogue, indicator));

        var withheld = revisions.Where(r => r.Withheld || complements.Contains(r.Sequence)).Select(r => r.Sequence).ToList();
        Assert.Empty(DeterminedOverStates(states, withheld, temporal));
        // Cell by cell, something is given away: the test can fail.
        Assert.NotEmpty(DeterminedOverStates(states, [.. revisions.Where(r => r.Withheld).Select(r => r.Sequence)], temporal));
        // Keys, periods and the pattern only, whatever the order rows come in.
        var shuffle = new Random(seed);
        Assert.Equal(complements.Order(), ComplementarySuppression.Complements([.. revisions.OrderBy(_ => shuffle.Next())], ComplementarySuppression.RuleOf(Catalogue, indicator)).Order());
    }

    [Theory]
    [InlineData("RETURNED_REFUGEES", 2)]
    [InlineData("IDPS", 5)]
    public void Complements_chosen_one_period_at_a_time_leave_values_the_periods_of_the_year_determine(string indicator, int seed)
    {
        // The rule without the temporal lines (a table per period): each period is safe alone, the year and its quarters are not.
        var (revisions, states, temporal) = GeneratedYear(indicator, seed);

        var complements = ComplementarySuppression.Complements(revisions, ComplementarySuppression.AdditiveDimensions(Catalogue, indicator));

        Assert.Empty(DeterminedOverStates(states, [.. revisions.Where(r => r.Withheld || complements.Contains(r.Sequence)).Select(r => r.Sequence)], TemporalAggregation.NotAggregable));
        Assert.NotEmpty(DeterminedOverStates(states, [.. revisions.Where(r => r.Withheld || complements.Contains(r.Sequence)).Select(r => r.Sequence)], temporal));
    }

    /// <summary>
    /// <paramref name="indicator"/>'s table of one generated year: its revisions, the state after each commit, and its temporal rule.
    /// </summary>
    private static (List<Revision> Revisions, List<List<(string Period, string[] Cell, long Sequence)>> States, TemporalAggregation Temporal) GeneratedYear(string indicator, int seed)
    {
        // A year of monthly counts by sex and age, about one in four small, with every total, each quarter and the year as the
        // indicator's temporal rule makes them (a flow sums its months, a stock is its last month), revised three times (each
        // commit a consistent table), some periods with less of a breakdown than others. Odd seeds report months, even seeds
        // the year and its quarters only (counts by quarter).
        var random = new Random(seed);
        var stock = indicator == "IDPS";
        var monthly = seed % 2 == 1;
        string[][] codes = [["F", "M"], new[] { "Y0T4", "Y12T17", "Y18T59" }[..(2 + (seed / 2 % 2))]];
        var months = Enumerable.Range(1, monthly ? 12 : 4).ToArray(); // the periods counted: months, or quarters
        var leaves = new Dictionary<string, int>();
        foreach (var month in months)
        {
            foreach (var sex in codes[0])
            {
                foreach (var age in codes[1])
                {
                    leaves[$"{month}|{sex}|{age}"] = Count();
                }
            }
        }
        string[] periods = ["2023", .. Enumerable.Range(1, 4).Select(q => $"2023-Q{q}"), .. monthly ? months.Select(m => $"2023-{m:D2}") : []];
        int[] MonthsOf(string period) => period.Length == 4 ? months
            : period[5] != 'Q' ? [int.Parse(period[5..], System.Globalization.CultureInfo.InvariantCulture)]
            : monthly ? [.. Enumerable.Range((period[6] - '1') * 3 + 1, 3)] : [period[6] - '0'];
        var revisions = new List<Revision>();
        var current = new Dictionary<string, (int Value, long Revision)>();
        var states = new List<List<(string Period, string[] Cell, long Sequence)>>();
        for (var commit = 0; commit < 4; commit++)
        {
            if (commit > 0)
            {
                var keys = leaves.Keys.Order().ToList();
                for (var i = 0; i < 3; i++)
                {
                    leaves[keys[random.Next(keys.Count)]] = Count();
                }
            }
            foreach (var period in periods)
            {
                var covered = MonthsOf(period);
                foreach (var sex in codes[0].Append("_T"))
                {
                    // The second and fourth quarters, March and December, by sex only: a breakdown that differs between periods.
                    foreach (var age in period is "2023-Q2" or "2023-Q4" or "2023-03" or "2023-12" ? ["_T"] : codes[1].Append("_T"))
                    {
                        string[] cell = [sex, age];
                        var value = leaves.Where(l => l.Key.Split('|') is var p && int.Parse(p[0], System.Globalization.CultureInfo.InvariantCulture) is var t
                            && (stock ? t == covered[^1] : covered.Contains(t))
                            && (sex == "_T" || p[1] == sex) && (age == "_T" || p[2] == age)).Sum(l => l.Value);
                        var key = $"{period}|{sex}|{age}";
                        if (current.TryGetValue(key, out var held) && held.Value == value)
                        {
                            continue;
                        }
                        var sequence = revisions.Count + 1L;
                        revisions.Add(new(sequence, commit, cell, false, value is >= 1 and < 5, period));
                        current[key] = (value, sequence);
                    }
                }
            }
            states.Add([.. current.Select(c => c.Key.Split('|') is var k ? (k[0], new[] { k[1], k[2] }, c.Value.Revision) : default)]);
        }
        return (revisions, states, stock ? TemporalAggregation.EndOfPeriod : TemporalAggregation.Sum);

        int Count() => random.Next(4) == 0 ? random.Next(1, 5) : random.Next(5, 200);
    }

    /// <summary>
    /// The withheld revisions (by sequence) that the lines of every state determine, by an exact rank test over BigInteger
    /// (dropping a determined revision's column lowers the rank): independent of the rule's own elimination.
    /// </summary>
    private static List<long> DeterminedOverStates(List<List<(string[] Cell, long Sequence)>> states, List<long> withheld) =>
        DeterminedOverStates([.. states.Select(state => state.Select(c => ("", c.Cell, c.Sequence)).ToList())], withheld, TemporalAggregation.NotAggregable);

    /// <summary>
    /// As above over cells of several periods of one year: the additive lines within each period, and the temporal lines of
    /// <paramref name="temporal"/> between periods (every dimension fixed), once every part is present: for SUM, the year
    /// against its quarters, the year against its months, each quarter against its months; for END_OF_PERIOD, the year = Q4,
    /// the year = December, each quarter = its last month.
    /// </summary>
    private static List<long> DeterminedOverStates(List<List<(string Period, string[] Cell, long Sequence)>> states, List<long> withheld, TemporalAggregation temporal)
    {
        var column = withheld.Select((sequence, i) => (sequence, i)).ToDictionary(p => p.sequence, p => p.i);
        var rows = new List<System.Numerics.BigInteger[]>();
        foreach (var state in states)
        {
            if (temporal != TemporalAggregation.NotAggregable)
            {
                foreach (var series in state.GroupBy(c => string.Join('|', c.Cell)))
                {
                    var byPeriod = series.ToDictionary(c => c.Period, c => c.Sequence);
                    foreach (var (whole, parts) in LinearDisclosure.TemporalLines(byPeriod.Keys, temporal == TemporalAggregation.EndOfPeriod))
                    {
                        var present = parts.Where(byPeriod.ContainsKey).ToList();
                        if (!byPeriod.TryGetValue(whole, out var total) || present.Count < parts.Length)
                        {
                            continue;
                        }
                        var row = new System.Numerics.BigInteger[withheld.Count];
                        foreach (var (sequence, sign) in present.Select(p => (byPeriod[p], -1)).Append((total, 1)))
                        {
                            if (column.TryGetValue(sequence, out var k))
                            {
                                row[k] += sign;
                            }
                        }
                        rows.Add(row);
                    }
                }
            }
            for (var d = 0; d < (state.Count == 0 ? 0 : state[0].Cell.Length); d++)
            {
                foreach (var line in state.GroupBy(c => c.Period + "/" + string.Join('|', c.Cell.Select((code, i) => i == d ? "*" : code))))
                {
                    if (line.Count(c => c.Cell[d] == "_T") != 1 || line.Count() < 2)
                    {
                        continue;
                    }
                    var row = new System.Numerics.BigInteger[withheld.Count];
                    foreach (var c in line.Where(c => column.ContainsKey(c.Sequence)))
                    {
                        row[column[c.Sequence]] += c.Cell[d] == "_T" ? 1 : -1;
                    }
                    rows.Add(row);
                }
            }
        }
        return [.. LinearDisclosure.Determined(rows, withheld.Count).Select(k => withheld[k])];
    }

    [Fact]
    public void The_exact_solver_finds_a_value_determined_only_through_a_combination_of_constraints()
    {
        // x0 + x1 = a, x1 + x2 = b, x0 - x2 = c: none alone, but also x0 + x1 + x2... not determined; add x1 = d: all three are.
        int[][] rows = [[1, 1, 0], [0, 1, 1], [1, 0, -1]];
        Assert.Empty(ComplementarySuppression.Determined(rows, 3));
        Assert.Equal([0, 1, 2], ComplementarySuppression.Determined([.. rows, [0, 1, 0]], 3).Order());
        // x0 - x1 = a and x0 + x1 = b determine both (over the rationals: 2 x0 = a + b).
        Assert.Equal([0, 1], ComplementarySuppression.Determined([[1, -1], [1, 1]], 2).Order());
    }

    // ---- The replica's check. ----

    private static readonly ReplicaRules Rules = new(new ObservationValidator(Catalogue), TimeProvider.System);

    private static StoredObservation Change(long sequence, string sex, Withholding withholding) => new()
    {
        Observation = new Observation
        {
            IndicatorCode = "REFUGEES", Country = "BLZ", Period = "2023", Sex = sex, Age = "_T", CountryOfOrigin = "_T",
            Value = withholding == Withholding.Unspecified ? 127 : 0,
            Status = withholding == Withholding.Unspecified ? ObservationStatus.Normal : ObservationStatus.Confidential,
        },
        Revision = 1,
        Origin = "BLZ",
        OriginSequence = sequence,
        RecordedTime = Timestamp.FromDateTimeOffset(new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero)),
        Withholding = withholding,
    };

    [Fact]
    public void A_replica_accepts_the_complement_the_rule_produces()
    {
        Rules.CheckComplements("BLZ", [Change(1, "F", Withholding.Complementary), Change(2, "M", Withholding.SmallCount), Change(3, "_T", Withholding.Unspecified)], [], null);
    }

    [Fact]
    public void A_replica_refuses_a_complement_the_rule_does_not_produce_as_wrongly_withheld()
    {
        // The total, where the rule withholds F: a node that withholds the total instead withholds what it should serve.
        var refused = Assert.Throws<PeerRefusedException>(() => Rules.CheckComplements("BLZ",
            [Change(1, "F", Withholding.Unspecified), Change(2, "M", Withholding.SmallCount), Change(3, "_T", Withholding.Complementary)], [], null));
        Assert.Equal(ReplicaRules.WronglyWithheld, refused.Reason);

        // And with no small count at all, nothing is complementary.
        refused = Assert.Throws<PeerRefusedException>(() => Rules.CheckComplements("BLZ",
            [Change(1, "F", Withholding.Complementary), Change(2, "M", Withholding.Unspecified), Change(3, "_T", Withholding.Unspecified)], [], null));
        Assert.Equal(ReplicaRules.WronglyWithheld, refused.Reason);
    }

    [Fact]
    public void A_replica_checks_a_complement_against_the_small_counts_it_already_holds()
    {
        // M arrived earlier as a small count (held withheld, status CONFIDENTIAL); F and _T arrive now in the same commit.
        ObservationRow[] held =
        [
            new()
            {
                Origin = "BLZ", OriginSequence = 2, IndicatorCode = "REFUGEES", Country = "BLZ", Period = "2023", Sex = "M", Age = "_T", CountryOfOrigin = "_T",
                Note = "", Revision = 1, ValueWithheld = true, Status = ObservationStatus.Confidential,
                RecordedTime = StoreTime.ToMicros(new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero)),
            },
        ];
        Rules.CheckComplements("BLZ", [Change(1, "F", Withholding.Complementary), Change(3, "_T", Withholding.Unspecified)], held, null);
        Assert.Throws<PeerRefusedException>(() => Rules.CheckComplements("BLZ", [Change(1, "F", Withholding.Unspecified), Change(3, "_T", Withholding.Complementary)], held, null));
        // Held as a complementary withholding (status UNSPECIFIED), M is not a small count: then F has nothing to protect.
        held[0].Status = ObservationStatus.Unspecified;
        Assert.Throws<PeerRefusedException>(() => Rules.CheckComplements("BLZ", [Change(1, "F", Withholding.Complementary), Change(3, "_T", Withholding.Unspecified)], held, null));
    }

    [Fact]
    public void A_complementary_withholding_comes_from_the_origin_only_and_never_to_the_owner_or_the_Secretariat()
    {
        var change = Change(1, "F", Withholding.Complementary);
        change.Policy = RowPolicy.Listed(["CRI"], null, 5).ToMessage();

        ReplicaRules.CheckWithheldByPolicy([change], Reader.State("CRI"), "origin", fromOrigin: true);
        // A relay could call any value complementary, and the reader would never ask again: it serves NOT_HELD instead.
        Assert.Equal(ReplicaRules.WronglyWithheld, Assert.Throws<PeerRefusedException>(() =>
            ReplicaRules.CheckWithheldByPolicy([change], Reader.State("CRI"), "relay", fromOrigin: false)).Reason);
        Assert.Equal(ReplicaRules.WronglyWithheld, Assert.Throws<PeerRefusedException>(() =>
            ReplicaRules.CheckWithheldByPolicy([change], Reader.Secretariat, "origin", fromOrigin: true)).Reason);
        Assert.Equal(ReplicaRules.WronglyWithheld, Assert.Throws<PeerRefusedException>(() =>
            ReplicaRules.CheckWithheldByPolicy([change], Reader.State("BLZ"), "origin", fromOrigin: true)).Reason);
        // A withheld value is something a relay may hold, as a small count is.
        Assert.True(SharingRules.MayHold(Reader.State("CRI"), change, 0));
        Assert.False(SharingRules.MayHold(Reader.State("PAN"), change, 0));
    }

    /// <summary>
    /// The withheld keys whose value the table's constraints determine given the others, checked by a rank test
    /// (independent of the rule's own elimination): x is determined when dropping its column lowers the rank.
    /// </summary>
    private static List<string[]> DeterminedAmong(List<string[]> withheld, List<string[]> cells)
    {
        var rows = new List<System.Numerics.BigInteger[]>();
        for (var d = 0; d < 3; d++)
        {
            foreach (var line in cells.GroupBy(c => string.Join('|', c.Select((code, i) => i == d ? "*" : code))))
            {
                if (!line.Any(c => c[d] == "_T") || line.Count() < 2)
                {
                    continue;
                }
                rows.Add([.. withheld.Select(w => new System.Numerics.BigInteger(line.Any(c => c.SequenceEqual(w)) ? (w[d] == "_T" ? 1 : -1) : 0))]);
            }
        }
        return [.. LinearDisclosure.Determined(rows, withheld.Count).Select(k => withheld[k])];
    }
}
