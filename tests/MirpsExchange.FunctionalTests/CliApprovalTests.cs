using System.Text.Json;
using MirpsExchange.Cli;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.ServiceDefaults;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary><c>mirps approve|unapprove|accept|reject|approvals</c> against PAN's node and the Secretariat's, with approver credentials.</summary>
public class CliApprovalTests
{
    private static async Task<string> CredentialFileAsync(string folder, string country)
    {
        var file = Path.Combine(folder, $"approver-{(country.Length == 0 ? "secretariat" : country)}.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.ApproverAsync(country)));
        return file;
    }

    [Fact]
    public async Task A_State_approves_in_bulk_the_Secretariat_accepts_and_rejects_and_bad_input_names_the_option()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll);
        var file = Path.Combine(pan.Folder, "secretariat.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        await using var secretariat = await TestSecretariat.StartAsync($"--Node:Credential={file}", "--Node:LifecyclePollInterval=00:00:00.200",
            $"--Node:Peers:0:Address={pan.Address}", "--Node:Peers:0:Country=PAN", "--Node:Peers:0:Origins:0=PAN");
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        string[] atPan = ["--node", pan.Address, "--identity", pan.Identity.Issuer, "--credential", await CredentialFileAsync(pan.Folder, "PAN")];
        string[] atSecretariat = ["--secretariat", secretariat.Address, "--identity", pan.Identity.Issuer, "--credential", await CredentialFileAsync(pan.Folder, "")];

        var (code, output, error) = await CliRunner.RunAsync(["approve", "--group", "POPULATIONS", "--group", "ASYLUM_PROCEDURES", "--period", "2022", "--period", "2023", .. atPan]);
        Assert.True(code == CliApp.Ok, error);
        Assert.Equal(4, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.Contains(" APPROVED (entry ", StringComparison.Ordinal)));
        Assert.Contains("PAN POPULATIONS 2023 APPROVED (entry 2, log to change 1", output);

        // The Secretariat accepts once it holds the approval.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        do
        {
            (code, output, error) = await CliRunner.RunAsync(["accept", "--country", "PAN", "--group", "POPULATIONS", "--period", "2023", .. atSecretariat]);
        }
        while (code != CliApp.Ok && DateTime.UtcNow < deadline && await Task.Delay(200).ContinueWith(_ => true));
        Assert.True(code == CliApp.Ok, error);
        Assert.Contains("PAN POPULATIONS 2023 ACCEPTED", output);
        (code, output, error) = await CliRunner.RunAsync(["reject", "--country", "PAN", "--group", "ASYLUM_PROCEDURES", "--period", "2023", "--reason", "decisions missing", .. atSecretariat]);
        Assert.True(code == CliApp.Ok, error);
        Assert.Contains("PAN ASYLUM_PROCEDURES 2023 REJECTED", output);
        Assert.Contains("decisions missing", output);

        // A revision: the State's status lists the key changed since approval.
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 240)));
        (code, output, error) = await CliRunner.RunAsync(["approvals", "--group", "POPULATIONS", "--period", "2023", .. atPan]);
        Assert.True(code == CliApp.Ok, error);
        Assert.Contains("PAN POPULATIONS 2023 CHANGED_SINCE_APPROVAL", output);
        Assert.Contains("  changed: ", output);
        // Approving what was reviewed at change 1 is refused: change 2 came after it.
        (code, _, error) = await CliRunner.RunAsync(["approve", "--group", "POPULATIONS", "--period", "2023", "--reviewed-sequence", "1", .. atPan]);
        Assert.Equal(CliApp.Refused, code);
        Assert.Contains("changed after change 1, which was reviewed", error);
        Assert.Contains("PAN POPULATIONS 2023", error);

        // Bad input names the option typed; an unapproval needs a reason.
        (code, _, error) = await CliRunner.RunAsync(["approve", "--group", "DECISIONS", "--period", "2023", .. atPan]);
        Assert.Equal(CliApp.Refused, code);
        Assert.Contains("--group[0]: 'DECISIONS' is not an indicator group", error);
        (code, _, error) = await CliRunner.RunAsync(["unapprove", "--group", "POPULATIONS", "--period", "2023", .. atPan]);
        Assert.NotEqual(CliApp.Ok, code);
        Assert.Contains("--reason", error);
        // A State's approver cannot accept.
        (code, _, error) = await CliRunner.RunAsync(["accept", "--country", "PAN", "--group", "POPULATIONS", "--period", "2023",
            "--secretariat", secretariat.Address, "--identity", pan.Identity.Issuer, "--credential", await CredentialFileAsync(pan.Folder, "PAN")]);
        Assert.Equal(CliApp.Failed, code);
        Assert.Contains("ROLE_NOT_ALLOWED", error);
    }
}
