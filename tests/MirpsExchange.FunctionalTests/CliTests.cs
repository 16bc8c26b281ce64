using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using MirpsExchange.Catalogue.Csv;
using MirpsExchange.Cli;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.FunctionalTests;

public class CliTests
{
    private static Task<(int Code, string Output, string Error)> RunAsync(params string[] args) => CliRunner.RunAsync(args);

    private static string Sample(string country) => Path.Combine(AppContext.BaseDirectory, "Samples", $"{country}.csv");

    [Fact]
    public async Task Submit_loads_a_sample_file_and_a_second_run_changes_nothing()
    {
        await using var node = await TestNode.StartAsync("PAN");
        var rows = File.ReadLines(Sample("PAN")).Count() - 1;

        var first = await RunAsync(["submit", Sample("PAN"), .. node.CliArgs]);
        var second = await RunAsync(["submit", Sample("PAN"), .. node.CliArgs, "--batch-size", "5"]);

        Assert.Equal(CliApp.Ok, first.Code);
        Assert.Contains($"{rows} inserted, 0 revised, 0 unchanged", first.Output);
        Assert.Equal(CliApp.Ok, second.Code);
        Assert.Contains($"0 inserted, 0 revised, {rows} unchanged", second.Output);
        Assert.Equal(rows, node.CountRows());
        var recognized = Assert.Single(await node.QueryAsync(new Mirps.Observation.V1.StreamObservationsRequest
        {
            IndicatorCodes = { "DECISIONS_RECOGNIZED" }, PeriodFrom = "2023", PeriodTo = "2023", Sexes = { "_T" }, Ages = { "_T" }, CountriesOfOrigin = { "_T" },
        }), s => s.Observation.Period == "2023");
        Assert.Equal(131, recognized.Observation.Value);
    }

    [Fact]
    public async Task Submit_refuses_a_bad_file_naming_its_lines_and_sends_nothing()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        var file = Path.Combine(node.Folder, "bad.csv");
        await File.WriteAllLinesAsync(file,
        [
            "indicator_code,country,period,sex,age,country_of_origin,value,status,note",
            "REFUGEES,BLZ,2023,_T,_T,_T,240,,",
            "REFUGEES,BLZ,2023-13,_T,_T,_T,240,,",
            "\"WORK_PERMITS\",BLZ,2023,F,Y0T4,_T,5,NORMAL,\"age, which permits do not declare\"",
        ]);

        var result = await RunAsync(["submit", file, .. node.CliArgs]);

        Assert.Equal(CliApp.Refused, result.Code);
        Assert.Contains("line 3, period:", result.Error);
        Assert.Contains("line 4, age:", result.Error);
        Assert.Equal(0, node.CountRows());
    }

    [Fact]
    public async Task Submit_reports_an_unreadable_value_and_a_node_that_refuses_another_States_data()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        var unreadable = Path.Combine(node.Folder, "unreadable.csv");
        await File.WriteAllLinesAsync(unreadable, ["indicator_code,country,period,value", "REFUGEES,BLZ,2023,1 240"]);

        var badNumber = await RunAsync(["submit", unreadable, .. node.CliArgs]);
        var otherState = await RunAsync(["submit", Sample("CRI"), .. node.CliArgs]);

        Assert.Equal(CliApp.Refused, badNumber.Code);
        Assert.Contains("line 2, value", badNumber.Error);
        Assert.Equal(CliApp.Refused, otherState.Code);
        Assert.Contains("InvalidArgument", otherState.Error);
        Assert.Contains("line 2, country:", otherState.Error);
        Assert.Equal(0, node.CountRows());
    }

    [Fact]
    public async Task Submit_validates_every_row_of_a_file_over_10000_rows_and_keys_repeated_across_batches()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        var rows = Samples.DistinctRefugees(10_001);
        rows[9_999].Value = -1; // line 10001, the last row of the first batch
        rows[10_000] = rows[0].Clone(); // line 10002, alone in the second batch: line 2's key again
        rows[10_000].Value = 2;
        var file = Path.Combine(node.Folder, "large.csv");
        await using (var writer = File.CreateText(file))
        {
            ObservationCsv.Write(writer, rows);
        }

        var dryRun = await RunAsync(["submit", file, .. node.CliArgs, "--dry-run"]);
        var submit = await RunAsync(["submit", file, .. node.CliArgs]);

        foreach (var result in new[] { dryRun, submit })
        {
            Assert.Equal(CliApp.Refused, result.Code);
            Assert.Contains("large.csv: line 10001, value: the value must not be negative", result.Error);
            Assert.Contains("large.csv: line 10002: the same key as line 2 (REFUGEES, BLZ, 2023,", result.Error);
            Assert.DoesNotContain("at most", result.Error);
        }
        Assert.Equal(0, node.CountRows());
    }

    [Fact]
    public async Task Exit_code_1_may_follow_written_batches_as_the_help_and_the_error_say()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        var file = Path.Combine(node.Folder, "two-states.csv");
        await File.WriteAllLinesAsync(file,
        [
            "indicator_code,country,period,sex,age,country_of_origin,value,status,note",
            "REFUGEES,BLZ,2023,_T,_T,_T,240,,",
            "REFUGEES,CRI,2023,_T,_T,_T,100,,",
        ]);

        var help = await RunAsync("submit", "--help");
        var result = await RunAsync(["submit", file, .. node.CliArgs, "--batch-size", "1"]);

        Assert.Contains("1 input refused; batches before the refused one were written, as the error says.", Regex.Replace(help.Output, @"\s+", " "));
        Assert.DoesNotContain("nothing written", help.Output);
        Assert.Equal(CliApp.Refused, result.Code);
        Assert.Contains("two-states.csv: line 3, country:", result.Error);
        Assert.Contains("note: the 1 observations before line 3 were written", result.Error);
        Assert.Equal(1, node.CountRows());
    }

    [Fact]
    public async Task The_excel_template_filled_in_is_submitted_and_a_bad_cell_is_refused_by_sheet_row_and_column_with_nothing_written()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        var template = Path.Combine(node.Folder, "blz-2023.xlsx");
        var made = await RunAsync("template", "--country", "BLZ", "--period", "2023", "--out", template);
        Assert.Equal(CliApp.Ok, made.Code);
        using var blank = new MemoryStream(await File.ReadAllBytesAsync(template));
        var value = MirpsExchange.TestShared.XlsxCells.ColumnOf(blank, "Procedimientos de asilo", "value");

        // One cell refused: nothing of the workbook is written, and the error names the sheet, the row and the column.
        var bad = Path.Combine(node.Folder, "bad.xlsx");
        using (var filled = MirpsExchange.TestShared.XlsxCells.Fill(blank, "Procedimientos de asilo", ($"{value}4", "130"), ($"{value}5", "-3")))
        {
            await File.WriteAllBytesAsync(bad, filled.ToArray());
        }
        var refused = await RunAsync(["submit", bad, .. node.CliArgs]);
        Assert.Equal(CliApp.Refused, refused.Code);
        Assert.Contains("bad.xlsx: sheet 'Procedimientos de asilo', row 5, value: the value must not be negative", refused.Error);
        Assert.Equal(0, node.CountRows());

        var good = Path.Combine(node.Folder, "good.xlsx");
        using (var filled = MirpsExchange.TestShared.XlsxCells.Fill(blank, "Procedimientos de asilo", ($"{value}4", "130"), ($"{value}5", "40")))
        {
            await File.WriteAllBytesAsync(good, filled.ToArray());
        }
        var submitted = await RunAsync(["submit", good, .. node.CliArgs]);
        Assert.Equal(CliApp.Ok, submitted.Code);
        Assert.Matches(@"good\.xlsx: 2 observations submitted to .*: 2 inserted, 0 revised, 0 unchanged; \d+ row\(s\) without a value skipped", submitted.Output);
        Assert.Equal("ASYLUM_APPLICATIONS|130; DECISIONS_RECOGNIZED|40", string.Join("; ", node.Rows("SELECT indicator_code, value FROM observations ORDER BY indicator_code")));
    }

    [Fact]
    public async Task Submit_to_an_unreachable_node_fails_with_a_clear_error()
    {
        // A port that was free a moment ago: nothing listens on it.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var identity = await SharedIdentity.GetAsync();
        var credential = Path.Combine(identity.Folder, $"blz-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(credential, System.Text.Json.JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("BLZ")));

        var result = await RunAsync("submit", Sample("BLZ"), "--node", $"http://127.0.0.1:{port}", "--identity", identity.Issuer, "--credential", credential);

        Assert.Equal(CliApp.Failed, result.Code);
        Assert.Contains("Unavailable", result.Error);
    }

    /// <summary>
    /// On both providers: with PostgreSQL (MirpsExchange.FunctionalTests.Postgres) this is <c>devnet --store postgres</c> on a
    /// throwaway server of the test's own, a database per process.
    /// </summary>
    [Fact]
    public async Task Devnet_once_starts_a_node_process_per_State_loads_the_samples_and_prints_them()
    {
        var folder = TempFolder.Create();
        await using var stores = await TestStores.DevnetAsync();
        try
        {
            var first = await RunAsync(["devnet", "--once", "--dir", folder, .. stores.Args]).WaitAsync(TimeSpan.FromMinutes(8));
            var second = await RunAsync(["devnet", "--once", "--dir", folder, .. stores.Args]).WaitAsync(TimeSpan.FromMinutes(8));

            Assert.True(first.Code == CliApp.Ok, first.Error + first.Output);
            // Each process wrote to its own store on the provider asked for: a State's own samples at its node (the relay holds
            // its neighbour's too), every State's replicated to the Secretariat (what the regional table below is summed from).
            const string Held = "SELECT DISTINCT origin FROM observations ORDER BY origin";
            foreach (var state in new[] { "BLZ", "CRI", "SLV", "GTM", "HND", "MEX", "PAN" })
            {
                Assert.Contains($"node {state} listening on http://127.0.0.1:", first.Output);
                Assert.Contains(state, stores.Rows(folder, state, Held));
            }
            Assert.Contains("secretariat listening on http://127.0.0.1:", first.Output);
            Assert.Contains("secretariat holds BLZ's", first.Output);
            Assert.Equal(["BLZ", "CRI", "GTM", "HND", "MEX", "PAN", "SLV"], stores.Rows(folder, "secretariat", Held));
            // Figures from the meeting report, replicated to the Secretariat: Mexico's "more than 140,000" claims (a lower bound),
            // Belize's refugees, Panama's recognitions; none of them synthetic.
            Assert.Matches(@"│\s*≥ 140,000\s*│", first.Output);
            Assert.Matches(@"Refugees\s*│\s*240\s*│", first.Output);
            Assert.Matches(@"Decisions:.*│\s*131\s*│", first.Output);
            // The regional table: sums of the seven sample files' 2023 totals, complete, with Mexico's lower bound and the synthetic figures flagged.
            var refugees = SampleTotal("REFUGEES");
            var applications = SampleTotal("ASYLUM_APPLICATIONS");
            var recognized = SampleTotal("DECISIONS_RECOGNIZED");
            var complementary = SampleTotal("DECISIONS_COMPLEMENTARY");
            var rejected = SampleTotal("DECISIONS_REJECTED");
            var invariant = System.Globalization.CultureInfo.InvariantCulture;
            Assert.Matches(string.Create(invariant, $@"Refugees\s*│\s*{refugees:#,0} synthetic\s*│\s*all 7 States; synthetic: CRI, SLV, GTM, HND, MEX, PAN"), first.Output);
            Assert.Matches(string.Create(invariant, $@"│\s*≥ {applications:#,0} synthetic\s*│\s*all 7 States; lower bound: MEX; synthetic: BLZ"), first.Output);
            // UNHCR's refugee recognition rate: recognized over every substantive decision (complementary protection included).
            var substantive = recognized + complementary + rejected;
            Assert.Contains(string.Create(invariant, $"{recognized / substantive:0.0%} ({recognized:#,0} / {substantive:#,0})"), first.Output);
            Assert.Matches(@"REFUGEES\s*│(\s*✓\s*│){7}", first.Output);
            Assert.Equal(CliApp.Ok, second.Code);
            Assert.Contains("0 inserted, 0 revised", second.Output);
            // The web app's address per process, and a demo account per role whose temporary password is printed once (the first run only).
            Assert.Matches(@"web app: blz http://127\.0\.0\.1:\d+, cri http://127\.0\.0\.1:\d+,.* secretariat http://127\.0\.0\.1:\d+", first.Output.ReplaceLineEndings(" ").ToLowerInvariant());
            foreach (var (userName, _, _, _) in MirpsExchange.Cli.Federation.DevnetWebApp.DemoAccounts)
            {
                Assert.Matches($@"{System.Text.RegularExpressions.Regex.Escape(userName)} \(.*\): \S{{12,}}", first.Output);
                Assert.DoesNotMatch($@"{System.Text.RegularExpressions.Regex.Escape(userName)} \(.*\): \S{{12,}}", second.Output);
            }
            Assert.Contains("exist from an earlier run", second.Output);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    [Fact]
    public async Task Devnet_reports_a_node_refusing_to_print_the_table_in_one_line()
    {
        var folder = TempFolder.Create();
        await using var stores = await TestStores.DevnetAsync();
        try
        {
            // The nodes start and load their samples, then refuse the table's query for a month 13.
            var result = await RunAsync(["devnet", "--once", "--dir", folder, "--period", "2023-13", .. stores.Args]).WaitAsync(TimeSpan.FromMinutes(8));

            Assert.Equal(CliApp.Failed, result.Code);
            Assert.Contains("node BLZ listening on http://127.0.0.1:", result.Output);
            var line = Assert.Single(result.Error.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("error: reading the 2023-13 figures from the Secretariat at http://127.0.0.1:", line);
            Assert.Contains("(InvalidArgument: invalid query: period_from:", line);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>The sum of the seven sample files' 2023 totals of an indicator (every dimension at _T, catalogue 2.0's at their defaults).</summary>
    internal static double SampleTotal(string indicator) =>
        Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Samples"), "*.csv")
            .SelectMany(file =>
            {
                using var reader = File.OpenText(file);
                return ObservationCsv.Read(reader).Observations;
            })
            .Where(o => o.IndicatorCode == indicator && o.Period == "2023" && o.Sex == "_T" && o.Age == "_T" && o.CountryOfOrigin == "_T"
                && Enumerable.Range(0, Mirps.Log.AddedDimensions.Count).All(Mirps.Log.AddedDimensions.Of(o).IsEmptyOrDefault))
            .Sum(o => o.Value);
}
