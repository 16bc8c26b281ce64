using System.Text.Json;
using Mirps.Approval.V1;
using Mirps.Auth;
using MirpsExchange.Cli;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.ServiceDefaults;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary><c>mirps webhooks add|list|deliveries|remove</c> against PAN's node with PAN's approver credential.</summary>
public class CliWebhooksTests
{
    [Fact]
    public async Task A_State_adds_lists_reads_the_delivery_log_and_removes_a_webhook_and_bad_input_names_the_option()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var pan = await TestNode.StartAsync("PAN", null, WebhookTests.WebhookArgs);
        var file = Path.Combine(pan.Folder, "approver-PAN.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.ApproverAsync("PAN")));
        string[] atPan = ["--node", pan.Address, "--identity", pan.Identity.Issuer, "--credential", file];

        var (code, output, error) = await CliRunner.RunAsync(["webhooks", "add", "--url", receiver.Url, "--event", "approved", "--event", "changed-since-approval",
            "--description", "national dashboard", .. atPan]);
        Assert.True(code == CliApp.Ok, error);
        var id = output.Split(' ')[0];
        Assert.StartsWith("wh_", id);
        var secret = output.Split('\n').Single(l => l.StartsWith("secret: ", StringComparison.Ordinal))["secret: ".Length..].Trim();

        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        await new ApprovalService.ApprovalServiceClient(pan.ChannelWith(pan.TokensFor(await SharedIdentity.ApproverAsync("PAN"), $"{MirpsAuth.ReadScope} {MirpsAuth.ApproveScope}")
            .ToCallCredentials())).ApproveDataAsync(new ApproveDataRequest { GroupIds = { "POPULATIONS" }, Periods = { "2023" } });
        await receiver.WhenAsync(e => e.Count == 1, "the approval");
        Assert.True(receiver.AllVerified(secret), "the secret the CLI printed does not verify the deliveries");

        // The receiver answered; the node records the delivery just after, so the list may show it pending for a moment.
        var listed = $"{id} {receiver.Url} [approved, changed-since-approval] HEALTHY, 0 pending: national dashboard";
        var deadline = DateTime.UtcNow.AddSeconds(10);
        do
        {
            (code, output, error) = await CliRunner.RunAsync(["webhooks", "list", .. atPan]);
            Assert.True(code == CliApp.Ok, error);
        }
        while (!output.Contains(listed, StringComparison.Ordinal) && DateTime.UtcNow < deadline);
        Assert.Contains(listed, output);
        (code, output, error) = await CliRunner.RunAsync(["webhooks", "deliveries", id, .. atPan]);
        Assert.True(code == CliApp.Ok, error);
        Assert.Contains("PAN.lifecycle.1 approved PAN POPULATIONS 2023 DELIVERED", output);
        Assert.Contains("HTTP 200", output);

        // Bad input names the option; nothing is added.
        (code, _, error) = await CliRunner.RunAsync(["webhooks", "add", "--url", receiver.Url, "--event", "approvd", .. atPan]);
        Assert.Equal(CliApp.Refused, code);
        Assert.Contains("--event[0]: unknown event type", error);
        (code, _, error) = await CliRunner.RunAsync(["webhooks", "add", "--url", "http://hooks.example.org/x", "--event", "approved", .. atPan]);
        Assert.Equal(CliApp.Refused, code);
        Assert.Contains("--url: ", error);
        Assert.Equal(1L, pan.CountRows("webhook_subscriptions"));

        (code, output, error) = await CliRunner.RunAsync(["webhooks", "remove", id, .. atPan]);
        Assert.True(code == CliApp.Ok, error);
        Assert.Equal(0L, pan.CountRows("webhook_subscriptions"));
        (code, _, error) = await CliRunner.RunAsync(["webhooks", "remove", id, .. atPan]);
        Assert.Equal(CliApp.Failed, code);
        Assert.Contains("SUBSCRIPTION_NOT_FOUND", error);
    }

    /// <summary>
    /// PAN's approver subscribes at the Secretariat's node (<c>--node-country secretariat</c>) to hear of the Secretariat's
    /// decisions on its figures; it lists its own subscription there only, and may not name the Secretariat's other events.
    /// </summary>
    [Fact]
    public async Task A_State_adds_and_lists_its_own_webhook_at_the_Secretariat()
    {
        await using var secretariat = await TestSecretariat.StartAsync(WebhookTests.WebhookArgs);
        var file = Path.Combine(secretariat.Folder, "approver-PAN.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.ApproverAsync("PAN")));
        string[] atSecretariat = ["--node", secretariat.Address, "--node-country", "secretariat", "--identity", secretariat.Identity.Issuer, "--credential", file];

        var (code, output, error) = await CliRunner.RunAsync(["webhooks", "add", "--url", "https://hooks.pan.example/mirps", "--event", "accepted", "--event", "rejected",
            .. atSecretariat]);
        Assert.True(code == CliApp.Ok, error);
        var id = output.Split(' ')[0];
        (code, output, error) = await CliRunner.RunAsync(["webhooks", "list", .. atSecretariat]);
        Assert.True(code == CliApp.Ok, error);
        Assert.Equal($"{id} https://hooks.pan.example/mirps [accepted, rejected] HEALTHY, 0 pending", output.Trim());
        (code, _, error) = await CliRunner.RunAsync(["webhooks", "add", "--url", "https://hooks.pan.example/mirps", "--event", "approved", .. atSecretariat]);
        Assert.Equal(CliApp.Refused, code);
        Assert.Contains("--event[0]: ", error);
        Assert.Equal(1L, secretariat.CountRows("webhook_subscriptions WHERE owner = 'PAN'"));
    }
}
