using System.Text.Json;
using Google.Rpc;
using Grpc.Core;
using Microsoft.Data.Sqlite;
using Mirps.Auth;
using Mirps.Catalog.V1;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using MirpsExchange.Catalogue.Csv;
using MirpsExchange.Cli;
using MirpsExchange.Cli.Federation;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.ServiceDefaults;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The catalogue's validation rules across observations at a node: ValidateObservations reports without writing,
/// submit refuses ERROR rules writing nothing and returns WARNINGs, `mirps submit --dry-run` writes nothing, and the
/// Secretariat reports each State's broken rules by period.
/// </summary>
public class ValidationRuleTests
{
    [Fact]
    public async Task ValidateObservations_judges_the_batch_over_the_stored_table_and_writes_nothing()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240), Refugees(value: 130, sex: "F")));
        var rows = node.CountRows();

        // M completes the sex breakdown stored earlier: 130 + 100 is not the stored total 240.
        var response = await node.Observations.ValidateObservationsAsync(new ValidateObservationsRequest { Observations = { Refugees(value: 100, sex: "M") } });

        var result = Assert.Single(response.Results);
        Assert.Equal((1, 0), (response.ErrorCount, response.WarningCount));
        Assert.Equal(("BREAKDOWN_COMPLETE_EQUALS_TOTAL", RuleSeverity.Error, "BLZ", "2023", "REFUGEES"), (result.RuleId, result.Severity, result.Country, result.Period, result.IndicatorCode));
        Assert.Equal((230, 240), (result.LeftValue, result.RightValue));
        Assert.Equal([("F", 130.0, false), ("M", 100.0, true)], result.LeftCells.Select(c => (c.Key.Sex, c.Value, c.HasObservationIndex)));
        Assert.Equal(0, result.LeftCells.Single(c => c.Key.Sex == "M").ObservationIndex);
        var total = Assert.Single(result.RightCells);
        Assert.Equal(("_T", 240.0, false), (total.Key.Sex, total.Value, total.HasObservationIndex));
        Assert.Equal(rows, node.CountRows());

        // The same batch with a consistent value: nothing to report, still nothing written.
        var clean = await node.Observations.ValidateObservationsAsync(new ValidateObservationsRequest { Observations = { Refugees(value: 110, sex: "M") } });
        Assert.Equal((0, 0, 0), (clean.Results.Count, clean.ErrorCount, clean.WarningCount));
        Assert.Equal(rows, node.CountRows());
    }

    [Fact]
    public async Task A_batch_that_breaks_an_error_rule_is_refused_whole_with_the_rule_and_cells_named_and_nothing_written()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));
        var rows = node.CountRows();
        var sequence = node.Execute("SELECT MAX(origin_sequence) FROM observations");

        // A valid new key (2022) beside the breakdown above its total: the whole batch is refused.
        var call = () => node.Observations.SubmitObservationsAsync(Submit(Refugees(period: "2022", value: 200), Refugees(value: 250, sex: "F"))).ResponseAsync;
        var error = await Assert.ThrowsAsync<RpcException>(call);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        var status = error.GetRpcStatus()!;
        var info = status.GetDetail<ErrorInfo>();
        Assert.Equal(("VALIDATION_RULE_FAILED", RpcErrors.Domain, "BREAKDOWN_NOT_ABOVE_TOTAL"), (info.Reason, info.Domain, info.Metadata["rules"]));
        var violation = Assert.Single(status.GetDetail<BadRequest>().FieldViolations);
        Assert.Equal("observations[1]", violation.Field);
        Assert.Contains("BREAKDOWN_NOT_ABOVE_TOTAL", violation.Description);
        Assert.Contains("REFUGEES 2023 F,_T,_T = 250 (observations[1])", violation.Description);
        Assert.Contains("REFUGEES 2023 _T,_T,_T = 240 (stored)", violation.Description);
        Assert.Equal(rows, node.CountRows());
        Assert.Equal(sequence, node.Execute("SELECT MAX(origin_sequence) FROM observations"));
    }

    [Fact]
    public async Task A_batch_refused_by_the_rules_after_its_rows_were_inserted_leaves_no_row_sequence_or_link_and_a_replica_verifies_the_log()
    {
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));
        var rows = DistinctRefugees(300);

        // 300 new keys (inserted many to a statement while the rules judge the batch) and a breakdown above its total: the
        // judgement refuses the batch after its rows went in, before the commit.
        var call = () => origin.Observations.SubmitObservationsAsync(Submit([.. rows, Refugees(value: 250, sex: "F")])).ResponseAsync;
        var error = await Assert.ThrowsAsync<RpcException>(call);

        Assert.Equal((StatusCode.InvalidArgument, "BREAKDOWN_NOT_ABOVE_TOTAL"), (error.StatusCode, error.GetRpcStatus()!.GetDetail<ErrorInfo>().Metadata["rules"]));
        Assert.Equal(1, origin.CountRows());
        Assert.Equal(1L, origin.Execute("SELECT MAX(origin_sequence) FROM observations"));
        // The next batch goes on from the last commit: no sequence or link of the refused rows is left in the log.
        var next = await origin.Observations.SubmitObservationsAsync(Submit([.. rows]));
        Assert.Equal((300, 301L), (next.Inserted, next.LastOriginSequence));
        await using var replica = await PeerSyncTests.ReplicaAsync("PAN", origin.Folder, await SharedIdentity.CredentialAsync(""), null, origin.Peer);
        await PeerSyncTests.ConvergesAsync(origin, replica); // every change's link and every head verified before it is applied
    }

    [Fact]
    public async Task Two_concurrent_batches_cannot_together_break_a_rule_each_alone_keeps()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        string[] years = ["2019", "2020", "2021", "2022", "2023"];
        await node.Observations.SubmitObservationsAsync(Submit([.. years.Select(year => Refugees(period: year, value: 240))]));

        foreach (var year in years)
        {
            // F or M alone is an incomplete breakdown under its total; both complete it at 130 + 130, not the total 240.
            var outcomes = await Task.WhenAll(new[] { "F", "M" }.Select(async sex =>
            {
                try
                {
                    await node.Observations.SubmitObservationsAsync(Submit(Refugees(period: year, value: 130, sex: sex)));
                    return true;
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
                {
                    return false;
                }
            }));

            Assert.Equal(1, outcomes.Count(written => written));
            Assert.Equal(1L, node.Execute($"SELECT COUNT(*) FROM observations WHERE period = '{year}' AND sex IN ('F', 'M')"));
        }
    }

    [Fact]
    public async Task A_submit_is_judged_over_a_deletion_made_since_the_last_submit_not_over_the_tables_that_submit_left()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240), Refugees(value: 130, sex: "F"), Refugees(value: 110, sex: "M")));
        await node.Observations.DeleteObservationsAsync(new DeleteObservationsRequest { Keys = { KeyOf(Refugees(sex: "M")) } });

        // F alone is an incomplete breakdown, at most the total: 250 holds. Over the table as the first submit left it
        // (F + M = 240, complete) it would be refused.
        var response = await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 250)));

        Assert.Equal((1, 0), (response.Revised, response.WarningCount));
    }

    [Fact]
    public async Task A_submit_is_judged_over_a_write_by_another_connection_since_the_last_submit()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240), Refugees(value: 130, sex: "F"), Refugees(value: 110, sex: "M")));
        // Behind the node's back (another process on the store file): M becomes 200, through no write gate.
        node.Execute("UPDATE observations SET value = 200 WHERE indicator_code = 'REFUGEES' AND sex = 'M' AND superseded_time IS NULL");

        // 130 + 200 = 330: the new total holds over the store as it is, not over the table the first submit left (240).
        var response = await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 330)));
        Assert.Equal((1, 0), (response.Revised, response.WarningCount));

        // The submit just made left the table as it is now: the next one is judged over 130 + 200 too.
        var call = () => node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240))).ResponseAsync;
        var error = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Contains("BREAKDOWN_COMPLETE_EQUALS_TOTAL", error.GetRpcStatus()!.GetDetail<ErrorInfo>().Metadata["rules"]);
    }

    [Fact]
    public async Task A_warning_is_returned_by_a_submit_that_writes()
    {
        await using var node = await TestNode.StartAsync("PAN");
        await node.Observations.SubmitObservationsAsync(Submit(
            Obs("ASYLUM_SEEKERS", "2022", 9800), Obs("ASYLUM_APPLICATIONS", "2023", 3400), Obs("DECISIONS_RECOGNIZED", "2023", 131),
            Obs("DECISIONS_COMPLEMENTARY", "2023", 0), Obs("DECISIONS_REJECTED", "2023", 960), Obs("DECISIONS_OTHERWISE_CLOSED", "2023", 1450)));

        // 9,800 + 3,400 - 2,541 = 10,659 pending at the end of 2023; 10,000 is reported.
        var response = await node.Observations.SubmitObservationsAsync(Submit(Obs("ASYLUM_SEEKERS", "2023", 10000)));

        Assert.Equal(1, response.Inserted);
        Assert.Equal(1, response.WarningCount);
        var warning = Assert.Single(response.Warnings);
        Assert.Equal(("PENDING_BALANCE", RuleSeverity.Warning, "PAN", "2023"), (warning.RuleId, warning.Severity, warning.Country, warning.Period));
        Assert.Equal((10000, 10659), (warning.LeftValue, warning.RightValue));
        Assert.Equal(4, warning.RightCells.Count(c => c.Subtracted));
        Assert.Equal(7, node.CountRows());
    }

    [Fact]
    public async Task Submit_dry_run_against_a_node_process_prints_the_report_and_writes_nothing()
    {
        var identity = await SharedIdentity.GetAsync();
        var folder = TempFolder.Create();
        try
        {
            var logKey = $"--Node:LogSigningKeyFile={await TestLogKeys.FileAsync(identity, "BLZ", folder)}";
            using var process = ServiceProcess.Node("BLZ", Path.Combine(folder, "BLZ"), identity.Issuer, logKey);
            await process.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
            var credential = Path.Combine(folder, "blz.json");
            OwnerOnlyFile.WriteAllText(credential, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("BLZ")));
            string[] args = ["--node", process.Address, "--identity", identity.Issuer, "--credential", credential];
            var stored = Path.Combine(folder, "stored.csv");
            await using (var writer = File.CreateText(stored))
            {
                ObservationCsv.Write(writer, [Refugees(value: 240)]);
            }
            Assert.Equal(CliApp.Ok, (await CliRunner.RunAsync(["submit", stored, .. args])).Code);
            var store = Path.Combine(folder, "BLZ", "node-blz.db");
            var before = Count(store);

            var file = Path.Combine(folder, "breakdown.csv");
            await using (var writer = File.CreateText(file))
            {
                ObservationCsv.Write(writer, [Refugees(value: 250, sex: "F"), Refugees(period: "2022", value: 5, origin: "BLZ")]);
            }
            var dryRun = await CliRunner.RunAsync(["submit", file, .. args, "--dry-run"]);

            Assert.Equal(CliApp.Refused, dryRun.Code);
            Assert.Contains("breakdown.csv: error: BREAKDOWN_NOT_ABOVE_TOTAL", dryRun.Output);
            Assert.Contains("REFUGEES, BLZ, 2023, F, _T, _T = 250 (line 2)", dryRun.Output);
            Assert.Contains("REFUGEES, BLZ, 2023, _T, _T, _T = 240 (stored)", dryRun.Output);
            Assert.Contains("breakdown.csv: error: ORIGIN_NOT_REPORTING_COUNTRY", dryRun.Output);
            Assert.Contains("2 error(s), 0 warning(s). Dry run: nothing was written.", dryRun.Output);
            Assert.Equal(before, Count(store));
            Assert.Equal(1, before.Rows);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            TempFolder.Delete(folder);
        }

        static (long Rows, long Heads) Count(string file)
        {
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT (SELECT COUNT(*) FROM observations), (SELECT COUNT(*) FROM log_heads)";
            using var reader = command.ExecuteReader();
            Assert.True(reader.Read());
            return (reader.GetInt64(0), reader.GetInt64(1));
        }
    }

    [Fact]
    public async Task The_Secretariats_report_names_the_State_and_period_of_each_broken_rule()
    {
        await using var secretariat = await TestSecretariat.StartAsync();
        // As replicated from figures written before the rules: Guatemala's 2022 breakdown above its total, Panama's 2023 pending claims off balance.
        await secretariat.ReplicateAsync(DateTimeOffset.UtcNow.AddMinutes(-1),
        [
            Refugees("GTM", "2022", 100), Refugees("GTM", "2022", 120, sex: "F"), Refugees("GTM", "2023", 100), Refugees("BLZ", "2023", 240),
            Obs("ASYLUM_SEEKERS", "2022", 9800), Obs("ASYLUM_SEEKERS", "2023", 10000), Obs("ASYLUM_APPLICATIONS", "2023", 3400), Obs("DECISIONS_RECOGNIZED", "2023", 131),
            Obs("DECISIONS_COMPLEMENTARY", "2023", 0), Obs("DECISIONS_REJECTED", "2023", 960), Obs("DECISIONS_OTHERWISE_CLOSED", "2023", 1450),
        ]);

        var report = await secretariat.Regional.GetValidationReportAsync(new GetValidationReportRequest());

        Assert.Equal((1, 1), (report.ErrorCount, report.WarningCount));
        Assert.Equal([("GTM", "2022", "BREAKDOWN_NOT_ABOVE_TOTAL", RuleSeverity.Error), ("PAN", "2023", "PENDING_BALANCE", RuleSeverity.Warning)],
            report.Results.Select(r => (r.Country, r.Period, r.RuleId, r.Severity)));
        Assert.NotEmpty(report.LogHeads);
        var panama = await secretariat.Regional.GetValidationReportAsync(new GetValidationReportRequest { Countries = { "PAN" }, PeriodFrom = "2023", PeriodTo = "2023" });
        Assert.Equal("PAN", Assert.Single(panama.Results).Country);
        var none = await secretariat.Regional.GetValidationReportAsync(new GetValidationReportRequest { Countries = { "PAN" }, PeriodTo = "2022" });
        Assert.Empty(none.Results);

        var file = Path.Combine(secretariat.Folder, "reader.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        var cli = await CliRunner.RunAsync(["regional", "validate", "--secretariat", secretariat.Address, "--identity", secretariat.Identity.Issuer, "--credential", file]);
        Assert.Equal(CliApp.Ok, cli.Code);
        Assert.Contains("GTM 2022 error: BREAKDOWN_NOT_ABOVE_TOTAL", cli.Output);
        Assert.Contains("PAN 2023 warning: PENDING_BALANCE", cli.Output);
        Assert.Contains("1 error(s), 1 warning(s)", cli.Output);
    }

    [Fact]
    public async Task The_validation_report_is_the_Secretariats_and_a_States_credential_is_refused()
    {
        await using var secretariat = await TestSecretariat.StartAsync();
        var state = secretariat.RegionalWith(await SharedIdentity.CredentialAsync("BLZ"), MirpsAuth.ReadScope);
        var error = await Assert.ThrowsAsync<RpcException>(() => state.GetValidationReportAsync(new GetValidationReportRequest()).ResponseAsync);
        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
    }

    private static Observation Obs(string indicator, string period, double value) => new()
    {
        IndicatorCode = indicator, Country = "PAN", Period = period, Sex = "_T", Age = "_T", CountryOfOrigin = "_T", Value = value, Status = ObservationStatus.Normal,
    };
}
