using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Mirps.Approval.V1;
using Mirps.Auth;
using Mirps.Log;
using Mirps.Notification.V1;
using Mirps.Observation.V1;
using MirpsExchange.Cli.Federation;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// What the webhook deriver reads, counted through the store's commands (<see cref="StoreCommands"/>, either store): a node nobody
/// subscribed to reads only that nobody did (it had cost the sync benchmark's start), and a hostile relay's placeholders at
/// the Secretariat cost nothing per round (hostile-review finding F5: a cursor row per placeholder, all reloaded every poll).
/// </summary>
public class WebhookCostTests
{
    private const string ApproveScopes = $"{MirpsAuth.ReadScope} {MirpsAuth.ApproveScope}";

    /// <summary>The commands run on <paramref name="store"/> while <paramref name="rounds"/> deriver rounds pass, the test calling nothing.</summary>
    private static async Task<List<string>> IdleCommandsAsync(string store, int rounds = 10)
    {
        using var commands = new StoreCommands();
        commands.Watch(store);
        await Task.Delay(TimeSpan.FromMilliseconds(100) * rounds); // WebhookArgs: a round every 100 ms
        return [.. commands.Taken().Select(c => c.Text)];
    }

    [Fact]
    public async Task A_node_without_subscriptions_reads_only_that_there_are_none_and_the_first_subscriber_hears_from_then_on()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var pan = await TestNode.StartAsync("PAN", null, WebhookTests.WebhookArgs);
        var approver = await SharedIdentity.ApproverAsync("PAN");
        var approvals = new ApprovalService.ApprovalServiceClient(pan.ChannelWith(pan.TokensFor(approver, ApproveScopes).ToCallCredentials()));
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230), Refugees("PAN", period: "2022", value: 200)));
        await approvals.ApproveDataAsync(new ApproveDataRequest { GroupIds = { "POPULATIONS" }, Periods = { "2022" } });

        var idle = await IdleCommandsAsync(pan.StoreName);
        Assert.True(idle.Count(c => c.Contains("webhook_subscriptions", StringComparison.Ordinal)) >= 5, "the deriver's check was not seen: " + string.Join(" | ", idle));
        var reads = idle.Where(c => !c.Contains("webhook_subscriptions", StringComparison.Ordinal) && !c.Contains("webhook_deliveries", StringComparison.Ordinal)).ToList();
        Assert.True(reads.Count == 0, "a node without subscriptions read more than that there are none: " + string.Join(" | ", reads));
        Assert.Equal(0L, pan.CountRows("webhook_cursors"));

        // The first subscription: events from then on (not the approval of 2022 before it), cursors kept from then on.
        var hooks = new NotificationService.NotificationServiceClient(pan.ChannelWith(pan.TokensFor(approver, ApproveScopes).ToCallCredentials()));
        await hooks.CreateSubscriptionAsync(new CreateSubscriptionRequest { Url = receiver.Url, EventTypes = { EventType.Approved, EventType.ChangedSinceApproval } });
        await approvals.ApproveDataAsync(new ApproveDataRequest { GroupIds = { "POPULATIONS" }, Periods = { "2023" } });
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 240)));
        var events = await receiver.WhenAsync(e => e.Count >= 2, "the approval and the change after it");
        await Task.Delay(500);
        Assert.Equal([(EventType.Approved, "2023", 2L), (EventType.ChangedSinceApproval, "2023", 2L)],
            receiver.Accepted.Select(e => (e.Type, e.Period, e.EntrySequence)));
        Assert.Equal(3L, events[1].FromSequence);
    }

    /// <summary>
    /// A hostile relay hands the Secretariat PAN's log as two thousand NOT_HELD placeholders and one change. The deriver keeps
    /// no row per placeholder, and reads none of them while nothing arrives; when the content comes (from PAN, say), one
    /// DATA_RECEIVED names it.
    /// </summary>
    [Fact]
    public async Task A_relays_placeholders_cost_the_Secretariats_webhooks_nothing_per_round_and_their_content_is_heard_when_it_comes()
    {
        const int Count = 2_000;
        await using var central = await WebhookReceiver.StartAsync();
        await using var secretariat = await TestSecretariat.StartAsync(WebhookTests.WebhookArgs);
        var hooks = new NotificationService.NotificationServiceClient(AuthenticatedChannel.Create(new Uri(secretariat.Address),
            new TokenClient(secretariat.Identity.Http, secretariat.Identity.TokenEndpoint, await SharedIdentity.ApproverAsync(""), ApproveScopes,
                MirpsAuth.NodeAudience(MirpsAuth.Secretariat))));
        await hooks.CreateSubscriptionAsync(new CreateSubscriptionRequest { Url = central.Url, EventTypes = { EventType.DataReceived } });

        var recorded = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddMinutes(-1));
        var changes = DistinctRefugees(Count, "PAN").Select((o, i) => new StoredObservation
        {
            Observation = o, Origin = "PAN", OriginSequence = i + 1, Revision = 1, RecordedTime = recorded, Salt = ByteString.CopyFrom(ChangeHash.NewSalts(1)),
        }).ToList();
        var placeholders = changes.SkipLast(1).Select(c =>
        {
            var content = new byte[ChangeHash.Size];
            Assert.True(ChangeHash.TryContentDigest(c, content, out _));
            return new StoredObservation
            {
                Origin = c.Origin, OriginSequence = c.OriginSequence, RecordedTime = c.RecordedTime, Withholding = Withholding.NotHeld,
                ContentDigest = ByteString.CopyFrom(content),
            };
        }).ToList();
        await secretariat.ApplyAsync("PAN", [.. placeholders, changes[^1]]);
        var first = Assert.Single(await central.WhenAsync(e => e.Count >= 1, "the one change the relay held"));
        Assert.Equal((long)Count, secretariat.CountRows("withheld_changes") + 1);
        Assert.Equal(((long)Count, (long)Count), (first.FromSequence, first.ToSequence));

        // No row per placeholder, and rounds that read none of them.
        Assert.True(secretariat.CountRows("webhook_cursors") <= 16, $"{secretariat.CountRows("webhook_cursors")} cursors for {Count - 1} placeholders");
        var idle = await IdleCommandsAsync(secretariat.StoreName);
        Assert.Contains(idle, c => c.Contains("webhook_cursors", StringComparison.Ordinal)); // the rounds ran
        Assert.DoesNotContain(idle, c => c.Contains("withheld_changes", StringComparison.Ordinal));

        // The content arrives: heard of once, in one event.
        await secretariat.ApplyAsync("PAN", [.. changes.SkipLast(1)]);
        var all = await central.WhenAsync(e => e.Count >= 2, "the content of the placeholders");
        Assert.Equal((EventType.DataReceived, "PAN", 1L, Count - 1L), (all[1].Type, all[1].Country, all[1].FromSequence, all[1].ToSequence));
        Assert.Equal(0L, secretariat.CountRows("withheld_changes"));
        await Task.Delay(500);
        Assert.Equal(2, central.Accepted.Count);
    }
}
