using System.CommandLine;
using MirpsExchange.Cli;
using MirpsExchange.FunctionalTests.Infrastructure;

namespace MirpsExchange.FunctionalTests;

public class CliTests
{
    private static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await CliApp.BuildRootCommand().Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    private static string Sample(string country) => Path.Combine(AppContext.BaseDirectory, "Samples", $"{country}.csv");

    [Fact]
    public async Task Submit_loads_a_sample_file_and_a_second_run_changes_nothing()
    {
        await using var node = await TestNode.StartAsync("PAN");
        var rows = File.ReadLines(Sample("PAN")).Count() - 1;

        var first = await RunAsync("submit", Sample("PAN"), "--node", node.Address);
        var second = await RunAsync("submit", Sample("PAN"), "--node", node.Address, "--batch-size", "5");

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

        var result = await RunAsync("submit", file, "--node", node.Address);

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

        var badNumber = await RunAsync("submit", unreadable, "--node", node.Address);
        var otherState = await RunAsync("submit", Sample("CRI"), "--node", node.Address);

        Assert.Equal(CliApp.Refused, badNumber.Code);
        Assert.Contains("line 2, value", badNumber.Error);
        Assert.Equal(CliApp.Refused, otherState.Code);
        Assert.Contains("InvalidArgument", otherState.Error);
        Assert.Contains("line 2, country:", otherState.Error);
        Assert.Equal(0, node.CountRows());
    }

    [Fact]
    public async Task Submit_to_an_unreachable_node_fails_with_a_clear_error()
    {
        var result = await RunAsync("submit", Sample("BLZ"), "--node", "http://127.0.0.1:1");

        Assert.Equal(CliApp.Failed, result.Code);
        Assert.Contains("Unavailable", result.Error);
    }

    [Fact]
    public async Task Devnet_once_starts_a_node_process_per_State_loads_the_samples_and_prints_them()
    {
        var folder = TempFolder.Create();
        try
        {
            var first = await RunAsync("devnet", "--once", "--dir", folder).WaitAsync(TimeSpan.FromMinutes(3));
            var second = await RunAsync("devnet", "--once", "--dir", folder).WaitAsync(TimeSpan.FromMinutes(3));

            Assert.True(first.Code == CliApp.Ok, first.Error + first.Output);
            foreach (var state in new[] { "BLZ", "CRI", "SLV", "GTM", "HND", "MEX", "PAN" })
            {
                Assert.Contains($"node {state} listening on http://127.0.0.1:", first.Output);
                Assert.True(File.Exists(Path.Combine(folder, state, $"node-{state.ToLowerInvariant()}.db")));
            }
            // Figures from the meeting report, read back from the nodes: Mexico's estimated claims, Belize's refugees, Panama's recognitions.
            Assert.Contains("140,000 e", first.Output);
            Assert.Matches(@"Refugees\s*│\s*240 ", first.Output);
            Assert.Matches(@"recognized.*│\s*131\s*│", first.Output);
            Assert.Equal(CliApp.Ok, second.Code);
            Assert.Contains("0 inserted, 0 revised", second.Output);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }
}
