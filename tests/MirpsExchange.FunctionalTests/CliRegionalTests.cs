using System.CommandLine;
using System.Text.Json;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue.Exports;
using MirpsExchange.Cli;
using MirpsExchange.FunctionalTests.Infrastructure;
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
