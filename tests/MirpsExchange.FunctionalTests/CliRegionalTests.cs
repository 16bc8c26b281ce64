using System.CommandLine;
using System.IO.Compression;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Mirps.Log;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.Catalogue.Exports;
using MirpsExchange.Cli;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.OriginFeeds;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.FunctionalTests;

/// <summary><c>mirps regional show|completeness|export</c> against a real Secretariat holding replicated data.</summary>
public class CliRegionalTests
{
    private static readonly string[] States = ["BLZ", "CRI", "SLV", "GTM", "HND", "MEX", "PAN"];

    private static Task<(int Code, string Output, string Error)> RunAsync(params string[] args) => CliRunner.RunAsync(args);

    private static async Task<string[]> ArgsAsync(TestSecretariat secretariat)
    {
        var file = Path.Combine(secretariat.Folder, "reader.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        return ["--secretariat", secretariat.Address, "--identity", secretariat.Identity.Issuer, "--credential", file];
    }

    /// <summary>2022: every State reported 100 + i refugees; 2023: all but Panama, 200 + i, Mexico's provisional.</summary>
    private static async Task<TestSecretariat> SecretariatWithDataAsync()
    {
        var secretariat = await TestSecretariat.StartAsync();
        var observations = new List<Observation>();
        for (var i = 0; i < States.Length; i++)
        {
            observations.Add(Refugees(States[i], "2022", 100 + i));
            if (States[i] != "PAN")
            {
                var o = Refugees(States[i], "2023", 200 + i);
                o.Status = States[i] == "MEX" ? ObservationStatus.Provisional : ObservationStatus.Normal;
                observations.Add(o);
            }
        }
        await secretariat.ReplicateAsync(DateTimeOffset.UtcNow.AddMinutes(-1), observations);
        return secretariat;
    }

    [Fact]
    public async Task Show_prints_the_total_its_change_and_names_the_missing_State()
    {
        await using var secretariat = await SecretariatWithDataAsync();

        var complete = await RunAsync(["regional", "show", "REFUGEES", "--period", "2022", .. await ArgsAsync(secretariat)]);
        var partial = await RunAsync(["regional", "show", "REFUGEES", "--period", "2023", .. await ArgsAsync(secretariat)]);

        Assert.True(complete.Code == CliApp.Ok, complete.Error + complete.Output);
        // 100 + 101 + ... + 106 = 721.
        Assert.Matches(@"total\s*│\s*721\s*│", complete.Output);
        Assert.Contains("all 7 States", complete.Output);
        Assert.Equal(CliApp.Ok, partial.Code);
        // 200 + 201 + ... + 205 = 1,215 from six States: partial, never the regional total, and no change computed.
        Assert.Matches(@"total\s*│\s*partial 1,215 p\s*│\s*721\s*│\s*-\s*│\s*6 of 7 States; missing PAN; provisional: MEX", partial.Output);
    }

    [Fact]
    public async Task Verify_passes_on_a_fresh_export_and_names_the_figure_or_the_head_that_does_not_follow_from_the_signed_logs()
    {
        await using var secretariat = await SecretariatWithDataAsync();
        var file = Path.Combine(secretariat.Folder, "regional.csv");
        var args = await ArgsAsync(secretariat);
        string[] verifyArgs = ["--node", secretariat.Address, .. args[2..]];
        var export = await RunAsync(["regional", "export", "--indicator", "REFUGEES", "--period", "2022", "--period", "2023", "--out", file, .. args]);
        Assert.True(export.Code == CliApp.Ok, export.Error + export.Output);
        var provenance = Mirps.Regional.V1.ExportProvenance.Parser.ParseJson(await File.ReadAllTextAsync(file + ".provenance.json"));
        Assert.Equal(States, provenance.LogHeads.Select(h => h.Origin));

        var fresh = await RunAsync(["regional", "verify", file, .. verifyArgs]);

        Assert.True(fresh.Code == CliApp.Ok, fresh.Error + fresh.Output);
        Assert.Contains("verified: 2 figures", fresh.Output);

        // One figure edited: 2022's complete total 721 made 722.
        var text = await File.ReadAllTextAsync(file);
        Assert.Contains("REFUGEES,MIRPS,2022,_T,_T,_T,,,,,,721,", text);
        var edited = Path.Combine(secretariat.Folder, "edited.csv");
        await File.WriteAllTextAsync(edited, text.Replace("REFUGEES,MIRPS,2022,_T,_T,_T,,,,,,721,", "REFUGEES,MIRPS,2022,_T,_T,_T,,,,,,722,"));
        File.Copy(file + ".provenance.json", edited + ".provenance.json");

        var figure = await RunAsync(["regional", "verify", edited, .. verifyArgs]);

        Assert.Equal(CliApp.Refused, figure.Code);
        Assert.Contains("row 1, the figure REFUGEES MIRPS 2022 _T _T _T: the export says value 722", figure.Error);
        Assert.Contains("the signed logs give value 721", figure.Error);

        // A head edited: Costa Rica's log said to end at another hash, so its signature no longer holds.
        var forged = provenance.Clone();
        var head = forged.LogHeads.Single(h => h.Origin == "CRI");
        var hash = head.Hash.ToByteArray();
        hash[0] ^= 1;
        head.Hash = Google.Protobuf.ByteString.CopyFrom(hash);
        var withForgedHead = Path.Combine(secretariat.Folder, "forged-head.csv");
        File.Copy(file, withForgedHead);
        await File.WriteAllTextAsync(withForgedHead + ".provenance.json", MirpsExchange.Cli.Commands.RegionalVerify.Json.Format(forged));

        var forgedHead = await RunAsync(["regional", "verify", withForgedHead, .. verifyArgs]);

        Assert.Equal(CliApp.Refused, forgedHead.Code);
        Assert.Contains("CRI's log up to the head at change 2: SIGNATURE_INVALID", forgedHead.Error);
    }

    [Fact]
    public async Task Verify_of_a_forged_download_exits_1_naming_the_entry_and_of_an_export_it_cannot_open_exits_2()
    {
        await using var secretariat = await SecretariatWithDataAsync();
        var file = Path.Combine(secretariat.Folder, "regional.csv");
        var args = await ArgsAsync(secretariat);
        string[] verifyArgs = ["--node", secretariat.Address, .. args[2..]];
        var export = await RunAsync(["regional", "export", "--indicator", "REFUGEES", "--period", "2022", "--out", file, .. args]);
        Assert.True(export.Code == CliApp.Ok, export.Error + export.Output);
        // The export and its provenance in one zip, as the web app's downloads hold them: it verifies.
        var download = Path.Combine(secretariat.Folder, "regional.zip");
        using (var zip = ZipFile.Open(download, ZipArchiveMode.Create))
        {
            zip.CreateEntryFromFile(file, "regional.csv");
            zip.CreateEntryFromFile(file + ".provenance.json", "regional.csv.provenance.json");
        }
        var genuine = await RunAsync(["regional", "verify", download, .. verifyArgs]);
        Assert.True(genuine.Code == CliApp.Ok, genuine.Error + genuine.Output);

        // A forged file beside them (the total 721 made 1721): the download does not verify, which is exit 1, not a failure to read it.
        var forged = Path.Combine(secretariat.Folder, "forged.zip");
        File.Copy(download, forged);
        using (var zip = ZipFile.Open(forged, ZipArchiveMode.Update))
        {
            using var writer = new StreamWriter(zip.CreateEntry("regional-final.csv").Open());
            await writer.WriteAsync((await File.ReadAllTextAsync(file)).Replace(",721,", ",1721,", StringComparison.Ordinal));
        }
        var refused = await RunAsync(["regional", "verify", forged, .. verifyArgs]);

        Assert.True(refused.Code == CliApp.Refused, $"{refused.Code}: {refused.Error}{refused.Output}");
        Assert.Contains("does not verify: forged.zip holds regional-final.csv besides regional.csv and its provenance", refused.Error, StringComparison.Ordinal);

        // An export that cannot be opened is not a verdict on any figure: exit 2.
        var missing = await RunAsync(["regional", "verify", Path.Combine(secretariat.Folder, "missing.zip"), .. verifyArgs]);

        Assert.True(missing.Code == CliApp.Failed, $"{missing.Code}: {missing.Error}{missing.Output}");
        Assert.DoesNotContain("does not verify", missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_refuses_a_change_the_node_serves_as_withheld_when_the_signed_policy_gives_it_to_the_reader()
    {
        await using var secretariat = await SecretariatWithDataAsync();
        // Costa Rica revises 2022: 101 becomes 150 (its change 3), so the 2022 total is 770.
        await secretariat.ReplicateAsync(DateTimeOffset.UtcNow.AddSeconds(-30), [Refugees("CRI", "2022", 150)]);
        var file = Path.Combine(secretariat.Folder, "regional.csv");
        var args = await ArgsAsync(secretariat);
        var export = await RunAsync(["regional", "export", "--indicator", "REFUGEES", "--period", "2022", "--out", file, .. args]);
        Assert.True(export.Code == CliApp.Ok, export.Error + export.Output);
        var fresh = await RunAsync(["regional", "verify", file, "--node", secretariat.Address, .. args[2..]]);
        Assert.True(fresh.Code == CliApp.Ok, fresh.Error + fresh.Output);
        Assert.Contains("withheld from the Secretariat: 0 of the 14 changes read", fresh.Output);
        // The export edited back to Costa Rica's first revision: 721.
        var edited = Path.Combine(secretariat.Folder, "edited.csv");
        var text = await File.ReadAllTextAsync(file);
        Assert.Contains("REFUGEES,MIRPS,2022,_T,_T,_T,,,,,,770,", text);
        await File.WriteAllTextAsync(edited, text.Replace("REFUGEES,MIRPS,2022,_T,_T,_T,,,,,,770,", "REFUGEES,MIRPS,2022,_T,_T,_T,,,,,,721,"));
        File.Copy(file + ".provenance.json", edited + ".provenance.json");

        // A node serving every State's log as the Secretariat's does, but Costa Rica's revision 2 relabelled as withheld
        // (with the digests that keep the chain whole): without it, revision 1 counts as current and 721 "follows".
        var logs = new Dictionary<string, List<StreamChangesResponse>>();
        foreach (var state in States)
        {
            using var call = new SyncService.SyncServiceClient(secretariat.Channel).StreamChanges(new StreamChangesRequest { Origin = state }, deadline: DateTime.UtcNow.AddSeconds(30));
            logs[state] = await call.ResponseStream.ReadAllAsync().ToListAsync();
        }
        await using var node = await MaliciousPeer.StartAsync();
        foreach (var withholding in new[] { Withholding.NotShared, Withholding.SmallCount, Withholding.Embargoed, Withholding.NotHeld })
        {
            node.RequestScript = request => request.Origin == "CRI" ? logs["CRI"].Select(m => Relabel(m, 3, withholding)) : logs[request.Origin];

            var result = await RunAsync(["regional", "verify", edited, "--node", node.Address, .. args[2..]]);

            Assert.True(result.Code == CliApp.Refused, $"{withholding}: {result.Code} {result.Error}{result.Output}");
            Assert.Contains($"CRI's log up to the head at change 3: WRONGLY_WITHHELD: the node at {node.Address}", result.Error);
            Assert.Contains($"served CRI's change 3 as {withholding}, but CRI's signed sharing policy lets the Secretariat receive it", result.Error);
        }
    }

    [Fact]
    public async Task Verify_names_a_State_whose_log_the_node_held_by_the_as_of_time_but_the_provenance_leaves_out()
    {
        // Panama's first change reached the Secretariat a minute after everyone else's.
        await using var secretariat = await TestSecretariat.StartAsync();
        var now = DateTimeOffset.UtcNow;
        await secretariat.ReplicateAsync(now.AddMinutes(-2), States.Where(s => s != "PAN").Select((s, i) => Refugees(s, "2022", 100 + i)));
        await secretariat.ReplicateAsync(now.AddMinutes(-1), [Refugees("PAN", "2022", 106)]);
        var args = await ArgsAsync(secretariat);
        string[] verifyArgs = ["--node", secretariat.Address, .. args[2..]];
        // As of a time before Panama's first change: the figure leaves Panama out, rightly.
        var before = Path.Combine(secretariat.Folder, "before.csv");
        var export = await RunAsync(["regional", "export", "--indicator", "REFUGEES", "--period", "2022", "--as-of", now.AddSeconds(-90).ToString("o"), "--out", before, .. args]);
        Assert.True(export.Code == CliApp.Ok, export.Error + export.Output);
        var provenance = Mirps.Regional.V1.ExportProvenance.Parser.ParseJson(await File.ReadAllTextAsync(before + ".provenance.json"));
        Assert.DoesNotContain("PAN", provenance.LogHeads.Select(h => h.Origin));

        var rightly = await RunAsync(["regional", "verify", before, .. verifyArgs]);

        Assert.True(rightly.Code == CliApp.Ok, rightly.Error + rightly.Output);
        Assert.Contains("withheld from the Secretariat: 0 of the 6 changes read", rightly.Output);

        // The same figures and heads said to be as of now: Panama's log, held since a minute ago, is left out of them.
        provenance.AsOfTime = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        var forged = Path.Combine(secretariat.Folder, "forged.csv");
        File.Copy(before, forged);
        await File.WriteAllTextAsync(forged + ".provenance.json", MirpsExchange.Cli.Commands.RegionalVerify.Json.Format(provenance));

        var result = await RunAsync(["regional", "verify", forged, .. verifyArgs]);

        Assert.True(result.Code == CliApp.Refused, result.Error + result.Output);
        Assert.Contains("does not verify: the provenance names no head of PAN's log, but the node holds PAN's changes up to 1", result.Error);
        Assert.Contains("the figures leave PAN out", result.Error);
    }

    [Fact]
    public async Task Export_writes_regional_totals_as_SDMX_CSV_that_reads_back_and_a_partial_total_without_its_value()
    {
        await using var secretariat = await SecretariatWithDataAsync();
        var file = Path.Combine(secretariat.Folder, "regional.csv");

        var result = await RunAsync(["regional", "export", "--indicator", "REFUGEES", "--period", "2022", "--period", "2023", "--format", "sdmx", "--labels", "es", "--out", file, .. await ArgsAsync(secretariat)]);

        Assert.True(result.Code == CliApp.Ok, result.Error + result.Output);
        var rows = ExportReader.Read(await File.ReadAllTextAsync(file));
        Assert.Equal(2, rows.Count);
        Assert.Equal(new ExportRow("REFUGEES", "MIRPS", "2022", "_T", "_T", "_T", 721, ObservationStatus.Normal, ""), rows[0]);
        Assert.Equal(("MIRPS", "2023", (double?)null, ObservationStatus.Provisional), (rows[1].ReferenceArea, rows[1].Period, rows[1].Value, rows[1].Status));
        Assert.Contains("missing PAN", rows[1].Note);
        Assert.Contains("their sum is 1215", rows[1].Note);
        Assert.StartsWith("STRUCTURE,STRUCTURE_ID,ACTION", await File.ReadAllTextAsync(file));
    }

    [Fact]
    public async Task Export_of_each_States_data_as_CSV_reads_back_to_the_replicated_values()
    {
        await using var secretariat = await SecretariatWithDataAsync();

        var result = await RunAsync(["regional", "export", "--states", "--indicator", "REFUGEES", "--period", "2022", .. await ArgsAsync(secretariat)]);

        Assert.True(result.Code == CliApp.Ok, result.Error + result.Output);
        var rows = ExportReader.Read(result.Output);
        Assert.Equal(States.Select((s, i) => $"{s}:{100 + i}").Order(), rows.Select(r => $"{r.ReferenceArea}:{r.Value}").Order());
    }

    [Fact]
    public async Task Completeness_marks_reported_provisional_and_missing_and_a_bad_request_exits_1_naming_the_field()
    {
        await using var secretariat = await SecretariatWithDataAsync();

        var result = await RunAsync(["regional", "completeness", "--indicator", "REFUGEES", "--from", "2023", .. await ArgsAsync(secretariat)]);
        var refused = await RunAsync(["regional", "show", "MEDIAN_PROCESSING_DAYS", "--period", "2023", .. await ArgsAsync(secretariat)]);
        var invalid = await RunAsync(["regional", "show", "REFUGEES", "--period", "2023-13", .. await ArgsAsync(secretariat)]);

        Assert.True(result.Code == CliApp.Ok, result.Error + result.Output);
        // Columns in code order: BLZ CRI GTM HND MEX PAN SLV.
        Assert.Matches(@"REFUGEES\s*│\s*2023\s*│\s*✓\s*│\s*✓\s*│\s*✓\s*│\s*✓\s*│\s*p\s*│\s*-\s*│\s*✓\s*│", result.Output);
        Assert.Equal(CliApp.Refused, refused.Code);
        Assert.Contains("FailedPrecondition", refused.Error);
        Assert.Equal(CliApp.Refused, invalid.Code);
        Assert.Contains("period", invalid.Error);
    }
}
