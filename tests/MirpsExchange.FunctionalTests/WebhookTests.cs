using System.Text.Json;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Mirps.Approval.V1;
using Mirps.Auth;
using Mirps.Notification.V1;
using Mirps.Observation.V1;
using MirpsExchange.Cli.Federation;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Node.Notifications;
using MirpsExchange.ServiceDefaults;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// Signed webhooks (issue 15, item 4) across real processes: a receiver in the test (Kestrel on 127.0.0.1) checks every
/// signature; events after approve, accept, reject, revise; retries after 500s and a failing subscription shown as such;
/// order per subscription; the outbox surviving a kill -9 of the sender; due soon and overdue with the test clock; bad input;
/// and the hostile State, who must never manage another node's webhooks nor hear of another State's figures.
/// </summary>
public class WebhookTests
{
    private const string Populations = "POPULATIONS";
    private const string ApproveScopes = $"{MirpsAuth.ReadScope} {MirpsAuth.ApproveScope}";

    /// <summary>Short intervals and backoff, receivers on loopback (development).</summary>
    public static readonly string[] WebhookArgs =
    [
        "--Webhooks:AllowLoopback=true", "--Webhooks:PollInterval=00:00:00.100", "--Webhooks:DeliveryInterval=00:00:00.100",
        "--Webhooks:InitialBackoff=00:00:00.200", "--Webhooks:MaxBackoff=00:00:00.800", "--Webhooks:FailingAfter=2",
    ];

    internal static NotificationService.NotificationServiceClient Notifications(TestNode node, ClientCredential credential, string scope = ApproveScopes) =>
        new(node.ChannelWith(node.TokensFor(credential, scope).ToCallCredentials()));

    private static NotificationService.NotificationServiceClient Notifications(string address, TestIdentity identity, ClientCredential credential, string audience,
        string scope = ApproveScopes) =>
        new(AuthenticatedChannel.Create(new Uri(address), new TokenClient(identity.Http, identity.TokenEndpoint, credential, scope, MirpsAuth.NodeAudience(audience))));

    internal static ApprovalService.ApprovalServiceClient Approvals(TestNode node, ClientCredential credential) =>
        new(node.ChannelWith(node.TokensFor(credential, ApproveScopes).ToCallCredentials()));

    internal static ApproveDataRequest Approve(string period = "2023") => new() { GroupIds = { Populations }, Periods = { period } };

    internal static CreateSubscriptionRequest Subscribe(string url, params EventType[] types) => new() { Url = url, EventTypes = { types }, Description = "test receiver" };

    private static async Task<TestSecretariat> SecretariatAsync(string folder, (string Address, string Country) peer, params string[] more)
    {
        var file = Path.Combine(folder, $"secretariat-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        return await TestSecretariat.StartAsync(
        [
            $"--Node:Credential={file}", "--Node:LifecyclePollInterval=00:00:00.200",
            $"--Node:Peers:0:Address={peer.Address}", $"--Node:Peers:0:Country={peer.Country}", $"--Node:Peers:0:Origins:0={peer.Country}",
            .. WebhookArgs, .. more,
        ]);
    }

    [Fact]
    public async Task Receivers_get_signed_events_in_order_for_approve_accept_revise_reject_and_unapprove()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var central = await WebhookReceiver.StartAsync();
        await using var pan = await TestNode.StartAsync("PAN", null, [ShareWithAll, .. WebhookArgs]);
        await using var secretariat = await SecretariatAsync(pan.Folder, pan.Peer);
        var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        var panHooks = Notifications(pan, await SharedIdentity.ApproverAsync("PAN"));
        var secretariatApprover = await SharedIdentity.ApproverAsync("");
        var centralHooks = Notifications(secretariat.Address, secretariat.Identity, secretariatApprover, MirpsAuth.Secretariat);
        var created = await panHooks.CreateSubscriptionAsync(Subscribe(receiver.Url, EventType.Approved, EventType.Unapproved, EventType.ChangedSinceApproval));
        Assert.Equal(44, created.Secret.Length); // 32 bytes, base64, shown once
        Assert.StartsWith("wh_", created.Subscription.SubscriptionId);
        var centralSecret = (await centralHooks.CreateSubscriptionAsync(Subscribe(central.Url,
            EventType.DataReceived, EventType.Approved, EventType.Accepted, EventType.Rejected, EventType.ChangedSinceApproval, EventType.Unapproved))).Secret;

        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        await state.ApproveDataAsync(Approve());
        await central.WhenAsync(e => e.Any(x => x.Type == EventType.Approved), "the Secretariat hears of PAN's approval");
        var acceptor = new ApprovalService.ApprovalServiceClient(AuthenticatedChannel.Create(new Uri(secretariat.Address),
            new TokenClient(secretariat.Identity.Http, secretariat.Identity.TokenEndpoint, secretariatApprover, ApproveScopes, MirpsAuth.NodeAudience(MirpsAuth.Secretariat))));
        await acceptor.AcceptDataAsync(new AcceptDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" } });
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 240))); // revised after the approval
        await receiver.WhenAsync(e => e.Any(x => x.Type == EventType.ChangedSinceApproval), "PAN hears its cell changed since approval");
        await state.ApproveDataAsync(Approve());
        await central.WhenAsync(e => e.Count(x => x.Type == EventType.Approved) == 2, "the Secretariat hears of the second approval");
        await acceptor.RejectDataAsync(new RejectDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" }, Reason = "the age breakdown is missing" });
        await state.UnapproveDataAsync(new UnapproveDataRequest { GroupIds = { Populations }, Periods = { "2023" }, Reason = "adding the age breakdown" });

        // PAN's receiver: its own cycle, in the order it happened, each event once, each signed with its secret.
        var events = await receiver.WhenAsync(e => e.Any(x => x.Type == EventType.Unapproved), "PAN hears of its unapproval");
        Assert.Equal([EventType.Approved, EventType.ChangedSinceApproval, EventType.Approved, EventType.Unapproved], events.Select(e => e.Type));
        Assert.All(events, e => Assert.Equal(("PAN", Populations, "2023"), (e.Country, e.GroupId, e.Period)));
        Assert.Equal([1L, 1, 2, 3], events.Select(e => e.EntrySequence));
        Assert.Equal(2L, events[1].FromSequence); // the revision: PAN's change 2
        Assert.Equal("adding the age breakdown", events[3].Reason);
        Assert.True(receiver.AllVerified(created.Secret), "a delivery's signature does not verify with the subscription's secret");
        Assert.False(receiver.AllVerified(centralSecret), "another subscription's secret verified PAN's deliveries");
        var first = receiver.Requests.First();
        Assert.False(WebhookSigning.Verify(Convert.FromBase64String(created.Secret), first.Id, first.Timestamp, first.Body.Replace("PAN", "BLZ"), first.Signature,
            DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5)), "an altered body verified");
        Assert.False(WebhookSigning.Verify(Convert.FromBase64String(created.Secret), first.Id, first.Timestamp, first.Body, first.Signature,
            DateTimeOffset.UtcNow.AddMinutes(10), TimeSpan.FromMinutes(5)), "a replay ten minutes later verified");

        // The Secretariat's receiver: data received, the approvals, its acceptance and rejection, the change since approval.
        var seen = await central.WhenAsync(e => e.Any(x => x.Type == EventType.Unapproved) && e.Any(x => x.Type == EventType.Rejected), "the Secretariat's whole cycle");
        Assert.True(central.AllVerified(centralSecret));
        Assert.Contains(seen, e => e.Type == EventType.DataReceived && e.Country == "PAN" && e.FromSequence == 1);
        Assert.Contains(seen, e => e.Type == EventType.Accepted && e.EntrySequence == 1);
        Assert.Contains(seen, e => e.Type == EventType.Rejected && e.EntrySequence == 2 && e.Reason == "the age breakdown is missing");
        Assert.Contains(seen, e => e.Type == EventType.ChangedSinceApproval && e.EntrySequence == 1);
        Assert.Equal(seen.Count, seen.Select(e => e.EventId).Distinct().Count());

        // The delivery log: every event delivered at the first attempt, newest first.
        var log = await panHooks.ListDeliveriesAsync(new ListDeliveriesRequest { SubscriptionId = created.Subscription.SubscriptionId });
        Assert.Equal(4, log.Deliveries.Count);
        Assert.All(log.Deliveries, d => Assert.Equal((true, 200), (d.Delivered, Assert.Single(d.Attempts).StatusCode)));
        Assert.Equal(EventType.Unapproved, log.Deliveries[0].Event.Type);
    }

    [Fact]
    public async Task A_receiver_answering_500_sees_retries_in_order_and_the_subscription_lists_as_failing_until_it_recovers()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var pan = await TestNode.StartAsync("PAN", null, WebhookArgs);
        var hooks = Notifications(pan, await SharedIdentity.ApproverAsync("PAN"));
        var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        var id = (await hooks.CreateSubscriptionAsync(Subscribe(receiver.Url, EventType.Approved))).Subscription.SubscriptionId;
        receiver.DefaultStatus = 500;

        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230), Refugees("PAN", period: "2022", value: 200)));
        await state.ApproveDataAsync(Approve("2022"));
        await state.ApproveDataAsync(Approve("2023"));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (receiver.Requests.Count < 3 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }
        // Only the first event is tried while it fails: the second waits its turn.
        Assert.True(receiver.Requests.Count >= 3, "no retries");
        Assert.All(receiver.Requests, r => Assert.Equal("PAN.lifecycle.1", r.Id));
        var failing = Assert.Single((await hooks.ListSubscriptionsAsync(new ListSubscriptionsRequest())).Subscriptions);
        Assert.Equal((SubscriptionHealth.Failing, "HTTP 500", 2L), (failing.Health, failing.LastError, failing.PendingCount));
        Assert.True(failing.ConsecutiveFailures >= 2);

        receiver.DefaultStatus = 204;
        var events = await receiver.WhenAsync(e => e.Count == 2, "both approvals once the receiver recovers");
        Assert.Equal(["2022", "2023"], events.Select(e => e.Period));
        // The receiver answers before the node records the delivery: wait for the record, not only the request.
        var healthy = Assert.Single((await hooks.ListSubscriptionsAsync(new ListSubscriptionsRequest())).Subscriptions);
        for (var until = DateTime.UtcNow.AddSeconds(30); healthy.PendingCount > 0 && DateTime.UtcNow < until; await Task.Delay(50))
        {
            healthy = Assert.Single((await hooks.ListSubscriptionsAsync(new ListSubscriptionsRequest())).Subscriptions);
        }
        Assert.Equal((SubscriptionHealth.Healthy, 0, 0L), (healthy.Health, healthy.ConsecutiveFailures, healthy.PendingCount));
        var log = await hooks.ListDeliveriesAsync(new ListDeliveriesRequest { SubscriptionId = id });
        var retried = log.Deliveries.Single(d => d.Event.Period == "2022");
        Assert.True(retried.Attempts.Count >= 4);
        Assert.All(retried.Attempts.SkipLast(1), a => Assert.Equal((500, "HTTP 500"), (a.StatusCode, a.Error)));
        Assert.Equal(204, retried.Attempts[^1].StatusCode);
        // Backoff: the waits between attempts do not shrink.
        var gaps = retried.Attempts.Zip(retried.Attempts.Skip(1), (a, b) => (b.AttemptTime.ToDateTimeOffset() - a.AttemptTime.ToDateTimeOffset()).TotalMilliseconds).ToList();
        Assert.True(gaps[0] >= 150, $"retried after {gaps[0]} ms, before the backoff");
    }

    [Fact]
    public async Task The_outbox_survives_a_kill_9_of_the_sender_and_delivers_after_the_restart()
    {
        var identity = await SharedIdentity.GetAsync();
        var folder = TempFolder.Create();
        try
        {
            var logKey = $"--Node:LogSigningKeyFile={await TestLogKeys.FileAsync(identity, "PAN", folder)}";
            string[] args = [logKey, .. WebhookArgs, "--Webhooks:InitialBackoff=00:00:00.100"];
            var store = Path.Combine(folder, "PAN");
            var approver = await SharedIdentity.ApproverAsync("PAN");
            await using var receiver = await WebhookReceiver.StartAsync();
            string url = receiver.Url, secret;
            receiver.DefaultStatus = 503; // down for maintenance while events happen
            using (var first = ServiceProcess.Node("PAN", store, identity.Issuer, args))
            {
                await first.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
                var hooks = Notifications(first.Address, identity, approver, "PAN");
                secret = (await hooks.CreateSubscriptionAsync(Subscribe(url, EventType.Approved, EventType.ChangedSinceApproval))).Secret;
                using var submitTokens = new TokenClient(identity.Http, identity.TokenEndpoint, await SharedIdentity.CredentialAsync("PAN"),
                    $"{MirpsAuth.ReadScope} {MirpsAuth.SubmitScope}", MirpsAuth.NodeAudience("PAN"));
                var observations = new ObservationService.ObservationServiceClient(AuthenticatedChannel.Create(new Uri(first.Address), submitTokens));
                var approvals = new ApprovalService.ApprovalServiceClient(AuthenticatedChannel.Create(new Uri(first.Address),
                    new TokenClient(identity.Http, identity.TokenEndpoint, approver, ApproveScopes, MirpsAuth.NodeAudience("PAN"))));
                await observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
                await approvals.ApproveDataAsync(Approve());
                await observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 240)));
                var deadline = DateTime.UtcNow.AddSeconds(30);
                while (DateTime.UtcNow < deadline
                    && (receiver.Requests.IsEmpty || Assert.Single((await hooks.ListSubscriptionsAsync(new ListSubscriptionsRequest())).Subscriptions).PendingCount < 2))
                {
                    await Task.Delay(50);
                }
                Assert.Equal(2L, Assert.Single((await hooks.ListSubscriptionsAsync(new ListSubscriptionsRequest())).Subscriptions).PendingCount);
                Assert.NotEmpty(receiver.Requests); // tried, refused
            } // kill -9 (Process.Kill sends SIGKILL): nothing flushed, nothing said goodbye

            // The receiver back up, the node restarted on the same store: both events arrive, in order.
            var refused = receiver.Requests.Count;
            receiver.DefaultStatus = 200;
            using var second = ServiceProcess.Node("PAN", store, identity.Issuer, args);
            await second.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
            var events = await receiver.WhenAsync(e => e.Count >= 2, "the events held in the outbox across the kill");
            Assert.Equal([EventType.Approved, EventType.ChangedSinceApproval], events.Select(e => e.Type));
            Assert.True(receiver.AllVerified(secret), "the restarted node signs with another secret");
            Assert.All(receiver.Requests.Take(refused), r => Assert.Equal("PAN.lifecycle.1", r.Id)); // in order, before and after the kill
            await Task.Delay(500);
            Assert.Equal(2, receiver.Accepted.Count); // nothing derived twice
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    [Fact]
    public async Task Due_soon_and_overdue_fire_once_per_State_group_and_period_with_the_test_clock()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var secretariat = await TestSecretariat.StartAsync(
        [
            .. WebhookArgs, "--Calendar:Rules:0:GroupId=POPULATIONS", "--Calendar:Rules:0:Granularity=year", "--Calendar:Rules:0:DueDays=45",
            "--Calendar:Rules:0:Extensions:PAN=15", "--Webhooks:DueSoonDays=7",
        ]);
        var hooks = Notifications(secretariat.Address, secretariat.Identity, await SharedIdentity.ApproverAsync(""), MirpsAuth.Secretariat);
        // 2023 is due 2024-02-14 (PAN: 2024-02-29). On 2024-02-10 it is due soon for six States, not yet for Panama.
        secretariat.Clock.Pinned = new DateTimeOffset(2024, 2, 10, 12, 0, 0, TimeSpan.Zero);
        await hooks.CreateSubscriptionAsync(Subscribe(receiver.Url, EventType.DueSoon, EventType.Overdue));
        var soon = await receiver.WhenAsync(e => e.Count >= 6, "due soon for six States");
        Assert.All(soon, e => Assert.Equal((EventType.DueSoon, Populations, "2023", "2024-02-14"), (e.Type, e.GroupId, e.Period, e.DueDate)));
        Assert.DoesNotContain(soon, e => e.Country == "PAN");

        // 2024-02-23: overdue for the six, due soon for Panama. Each once, however many rounds pass.
        secretariat.Clock.Pinned = new DateTimeOffset(2024, 2, 23, 12, 0, 0, TimeSpan.Zero);
        var all = await receiver.WhenAsync(e => e.Count >= 13, "overdue for six, due soon for Panama");
        await Task.Delay(500);
        Assert.Equal(13, receiver.Accepted.Count);
        Assert.Equal(6, all.Count(e => e.Type == EventType.Overdue && e.Country != "PAN"));
        Assert.Single(all, e => e.Type == EventType.DueSoon && e.Country == "PAN" && e.DueDate == "2024-02-29");
        secretariat.Clock.Pinned = null;
    }

    [Fact]
    public async Task Bad_input_gets_a_clear_error_and_changes_nothing()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, WebhookArgs);
        await using var production = await TestNode.StartAsync("BLZ");
        var hooks = Notifications(pan, await SharedIdentity.ApproverAsync("PAN"));
        var belize = Notifications(production, await SharedIdentity.ApproverAsync("BLZ"));
        const string Good = "https://hooks.example.org/mirps";

        await RpcAssert.InvalidArgumentAsync(() => hooks.CreateSubscriptionAsync(new CreateSubscriptionRequest { Url = Good, EventTypes = { (EventType)99 } }).ResponseAsync, "event_types[0]");
        await RpcAssert.InvalidArgumentAsync(() => hooks.CreateSubscriptionAsync(new CreateSubscriptionRequest { Url = Good, EventTypes = { EventType.Unspecified } }).ResponseAsync, "event_types[0]");
        await RpcAssert.InvalidArgumentAsync(() => hooks.CreateSubscriptionAsync(new CreateSubscriptionRequest { Url = Good }).ResponseAsync, "event_types");
        // The calendar's events come from the Secretariat: a State's node does not emit them.
        await RpcAssert.InvalidArgumentAsync(() => hooks.CreateSubscriptionAsync(Subscribe(Good, EventType.Approved, EventType.Overdue)).ResponseAsync, "event_types[1]");
        foreach (var url in new[]
        {
            "", "not a url", "ftp://hooks.example.org/x", "http://hooks.example.org/mirps", "https://user:pw@hooks.example.org/x",
            "https://169.254.169.254/latest/meta-data/", "https://[fe80::1]/x", "https://0.0.0.0/x", "https://[fd00:ec2::254]/x", "https://[::ffff:169.254.169.254]/x",
        })
        {
            await RpcAssert.InvalidArgumentAsync(() => hooks.CreateSubscriptionAsync(Subscribe(url, EventType.Approved)).ResponseAsync, "url");
        }
        // Loopback only where the node allows it (development): BLZ's does not.
        foreach (var url in new[] { "http://127.0.0.1:9/x", "https://localhost/x", "https://[::1]/x" })
        {
            await RpcAssert.InvalidArgumentAsync(() => belize.CreateSubscriptionAsync(Subscribe(url, EventType.Approved)).ResponseAsync, "url");
        }
        Assert.Equal(0L, pan.CountRows("webhook_subscriptions"));
        Assert.Equal(0L, production.CountRows("webhook_subscriptions"));

        // Another node's subscription id is unknown here, as is a made-up one; nothing removed.
        var blzId = (await belize.CreateSubscriptionAsync(Subscribe(Good, EventType.Approved))).Subscription.SubscriptionId;
        await hooks.CreateSubscriptionAsync(Subscribe(Good, EventType.Approved));
        await RpcAssert.ReasonAsync(() => hooks.DeleteSubscriptionAsync(new DeleteSubscriptionRequest { SubscriptionId = blzId }).ResponseAsync, StatusCode.NotFound, "SUBSCRIPTION_NOT_FOUND");
        await RpcAssert.ReasonAsync(() => hooks.ListDeliveriesAsync(new ListDeliveriesRequest { SubscriptionId = blzId }).ResponseAsync, StatusCode.NotFound, "SUBSCRIPTION_NOT_FOUND");
        await RpcAssert.ReasonAsync(() => hooks.DeleteSubscriptionAsync(new DeleteSubscriptionRequest { SubscriptionId = "wh_0000" }).ResponseAsync, StatusCode.NotFound, "SUBSCRIPTION_NOT_FOUND");
        await RpcAssert.InvalidArgumentAsync(() => hooks.DeleteSubscriptionAsync(new DeleteSubscriptionRequest()).ResponseAsync, "subscription_id");
        Assert.Equal((1L, 1L), (pan.CountRows("webhook_subscriptions"), production.CountRows("webhook_subscriptions")));
        await belize.DeleteSubscriptionAsync(new DeleteSubscriptionRequest { SubscriptionId = blzId });
        Assert.Equal(0L, production.CountRows("webhook_subscriptions"));
    }

    /// <summary>
    /// Internal networks are not receivers (SSRF): RFC 1918, unique local (fc00::/7), shared CGNAT (100.64.0.0/10), and an
    /// IPv4 address wrapped in IPv6 (NAT64 64:ff9b::/96, 6to4 2002::/16) is judged as the IPv4 address it reaches. A node
    /// whose receivers are on its private network says so (Webhooks:AllowPrivate); wrapped metadata and loopback stay refused.
    /// </summary>
    [Fact]
    public async Task Private_and_nat64_receivers_are_refused()
    {
        await using var blz = await TestNode.StartAsync("BLZ");
        await using var internalOnly = await TestNode.StartAsync("PAN", null, "--Webhooks:AllowPrivate=true");
        var hooks = Notifications(blz, await SharedIdentity.ApproverAsync("BLZ"));
        var allowing = Notifications(internalOnly, await SharedIdentity.ApproverAsync("PAN"));
        string[] privateUrls =
        [
            "https://10.0.0.5/x", "https://172.16.3.4/x", "https://172.31.255.1/x", "https://192.168.1.1/x", "https://100.64.0.1/x", "https://100.127.255.254/x",
            "https://[fd12:3456::1]/x", "https://[fc00::1]/x", "https://[64:ff9b::a00:5]/x", "https://[2002:c0a8:101::1]/x", "https://[64:ff9b:1::a00:5]/x",
        ];
        string[] wrappedSpecial = ["https://[64:ff9b::a9fe:a9fe]/latest/meta-data/", "https://[2002:a9fe:a9fe::]/x", "https://[64:ff9b::7f00:1]/x", "https://[2002:7f00:1::1]/x"];
        foreach (var url in privateUrls.Concat(wrappedSpecial))
        {
            await RpcAssert.InvalidArgumentAsync(() => hooks.CreateSubscriptionAsync(Subscribe(url, EventType.Approved)).ResponseAsync, "url");
        }
        foreach (var url in wrappedSpecial)
        {
            await RpcAssert.InvalidArgumentAsync(() => allowing.CreateSubscriptionAsync(Subscribe(url, EventType.Approved)).ResponseAsync, "url");
        }
        Assert.Equal((0L, 0L), (blz.CountRows("webhook_subscriptions"), internalOnly.CountRows("webhook_subscriptions")));
        // Public addresses stay receivers, and a private one where the node allows it.
        await hooks.CreateSubscriptionAsync(Subscribe("https://172.32.0.1/x", EventType.Approved));
        await hooks.CreateSubscriptionAsync(Subscribe("https://[64:ff9b::808:808]/x", EventType.Approved));
        await allowing.CreateSubscriptionAsync(Subscribe("https://10.0.0.5/x", EventType.Approved));
        Assert.Equal((2L, 1L), (blz.CountRows("webhook_subscriptions"), internalOnly.CountRows("webhook_subscriptions")));
    }

    /// <summary>
    /// Think as a hostile State. Belize's approver calls PAN's node: it may not create, list or remove PAN's subscriptions (nor
    /// may PAN's submit-only credential, nor the Secretariat). Belize's own node replicates PAN's figures and signed approvals:
    /// Belize's receiver, subscribed to every event its node emits, hears nothing of PAN, whose approval and revision it holds.
    /// </summary>
    [Fact]
    public async Task A_State_can_neither_manage_another_nodes_webhooks_nor_hear_of_another_States_figures_it_replicates()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var pan = await TestNode.StartAsync("PAN", null, [ShareWithAll, .. WebhookArgs]);
        var credentialFile = Path.Combine(pan.Folder, "blz-credential.json");
        OwnerOnlyFile.WriteAllText(credentialFile, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("BLZ")));
        await using var blz = await TestNode.StartAsync("BLZ", null,
        [
            .. WebhookArgs, $"--Node:Credential={credentialFile}", "--Node:LifecyclePollInterval=00:00:00.200",
            $"--Node:Peers:0:Address={pan.Address}", "--Node:Peers:0:Country=PAN", "--Node:Peers:0:Origins:0=PAN",
        ]);
        var panHooks = Notifications(pan, await SharedIdentity.ApproverAsync("PAN"));
        var panId = (await panHooks.CreateSubscriptionAsync(Subscribe("https://hooks.pan.example/mirps", EventType.Approved))).Subscription.SubscriptionId;

        foreach (var (intruder, reason) in new[]
        {
            (Notifications(pan, await SharedIdentity.ApproverAsync("BLZ")), "COUNTRY_MISMATCH"),
            (Notifications(pan, await SharedIdentity.ApproverAsync("")), "COUNTRY_MISMATCH"),
            (Notifications(pan, pan.Credential, $"{MirpsAuth.ReadScope} {MirpsAuth.SubmitScope}"), "MISSING_SCOPE"),
        })
        {
            await RpcAssert.ReasonAsync(() => intruder.CreateSubscriptionAsync(Subscribe(receiver.Url, EventType.Approved)).ResponseAsync, StatusCode.PermissionDenied, reason);
            await RpcAssert.ReasonAsync(() => intruder.ListSubscriptionsAsync(new ListSubscriptionsRequest()).ResponseAsync, StatusCode.PermissionDenied, reason);
            await RpcAssert.ReasonAsync(() => intruder.DeleteSubscriptionAsync(new DeleteSubscriptionRequest { SubscriptionId = panId }).ResponseAsync, StatusCode.PermissionDenied, reason);
            await RpcAssert.ReasonAsync(() => intruder.ListDeliveriesAsync(new ListDeliveriesRequest { SubscriptionId = panId }).ResponseAsync, StatusCode.PermissionDenied, reason);
        }
        Assert.Equal(1L, pan.CountRows("webhook_subscriptions"));

        // Belize subscribes on its own node to everything it emits, then PAN approves and revises its figures.
        var blzHooks = Notifications(blz, await SharedIdentity.ApproverAsync("BLZ"));
        await blzHooks.CreateSubscriptionAsync(Subscribe(receiver.Url, [.. WebhookSubscriptions.StateEvents]));
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        await Approvals(pan, await SharedIdentity.ApproverAsync("PAN")).ApproveDataAsync(Approve());
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 240)));
        // Belize's node holds PAN's approval and revision...
        var blzView = new ApprovalService.ApprovalServiceClient(blz.Channel);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await blzView.GetApprovalStatusAsync(new GetApprovalStatusRequest { Countries = { "PAN" }, GroupIds = { Populations }, Periods = { "2023" } })).Cells[0].State
            != ApprovalState.ChangedSinceApproval)
        {
            Assert.True(DateTime.UtcNow < deadline, "Belize's node never held PAN's approval and revision");
            await Task.Delay(100);
        }
        // ... and Belize's own approval is heard, after several rounds in which PAN's would have been.
        await blz.Observations.SubmitObservationsAsync(Submit(Refugees("BLZ", value: 240)));
        await Approvals(blz, await SharedIdentity.ApproverAsync("BLZ")).ApproveDataAsync(Approve());
        await receiver.WhenAsync(e => e.Any(x => x.Country == "BLZ"), "Belize's own approval");
        await Task.Delay(500);
        Assert.DoesNotContain(receiver.Accepted, e => e.Country != "BLZ");
        Assert.Equal(receiver.Accepted.Count, blz.CountRows("webhook_events")); // none about PAN was even derived
    }

    /// <summary>
    /// PAN holds drafts back (HoldDrafts), from the Secretariat too. The Secretariat's receiver hears nothing of a draft: no data
    /// received while its changes are placeholders, and no change since approval for a revision held back, although PAN's own
    /// receiver hears of it; once PAN approves, the data arrives and is heard of.
    /// </summary>
    [Fact]
    public async Task The_Secretariat_hears_nothing_of_a_draft_a_State_holds_back()
    {
        await using var central = await WebhookReceiver.StartAsync();
        await using var own = await WebhookReceiver.StartAsync();
        await using var pan = await TestNode.StartAsync("PAN", null, [ShareWithAll, "--Node:Sharing:Default:HoldDrafts=true", .. WebhookArgs]);
        await using var secretariat = await SecretariatAsync(pan.Folder, pan.Peer);
        var hooks = Notifications(secretariat.Address, secretariat.Identity, await SharedIdentity.ApproverAsync(""), MirpsAuth.Secretariat);
        await hooks.CreateSubscriptionAsync(Subscribe(central.Url, EventType.DataReceived, EventType.Approved, EventType.ChangedSinceApproval));
        await Notifications(pan, await SharedIdentity.ApproverAsync("PAN")).CreateSubscriptionAsync(Subscribe(own.Url, EventType.ChangedSinceApproval));
        var sync = new Mirps.Sync.V1.SyncService.SyncServiceClient(secretariat.Channel);
        async Task SecretariatHoldsLogToAsync(long sequence)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (((await sync.GetSyncStatusAsync(new Mirps.Sync.V1.GetSyncStatusRequest())).Origins.SingleOrDefault(o => o.Origin == "PAN")?.LatestSequence ?? 0) < sequence)
            {
                Assert.True(DateTime.UtcNow < deadline, $"the Secretariat never held PAN's log to change {sequence}");
                await Task.Delay(100);
            }
            await Task.Delay(500); // several derivation rounds
        }

        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        await SecretariatHoldsLogToAsync(1);
        Assert.Empty(central.Requests);

        await Approvals(pan, await SharedIdentity.ApproverAsync("PAN")).ApproveDataAsync(Approve());
        await central.WhenAsync(e => e.Any(x => x.Type == EventType.DataReceived) && e.Any(x => x.Type == EventType.Approved), "PAN's approved data");

        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 240))); // a draft again
        await own.WhenAsync(e => e.Any(x => x.Type == EventType.ChangedSinceApproval), "PAN hears its own revision");
        await SecretariatHoldsLogToAsync(2);
        Assert.DoesNotContain(central.Accepted, e => e.Type == EventType.ChangedSinceApproval || e.ToSequence == 2);
        Assert.Equal(2, central.Accepted.Count);
    }

    [Fact]
    public async Task An_embargo_lifting_is_heard_once_at_its_release_time_and_not_before()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        if (await TestStores.CreateAsync() is { } warm)
        {
            await warm.DropAsync(); // the run's PostgreSQL server started (it takes seconds the first time), before the release time is set
        }
        await SharedIdentity.ApproverAsync("PAN");
        var release = DateTimeOffset.UtcNow.AddSeconds(6);
        await using var pan = await TestNode.StartAsync("PAN", null,
            [ShareWithAll, $"--Node:Sharing:Indicators:REFUGEES:ReleaseTime={release:O}", .. WebhookArgs]);
        await Notifications(pan, await SharedIdentity.ApproverAsync("PAN")).CreateSubscriptionAsync(Subscribe(receiver.Url, EventType.EmbargoLifted));
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230), Refugees("PAN", sex: "F", value: 120)));
        await Task.Delay(500);
        Assert.Empty(receiver.Requests); // still embargoed

        var lifted = Assert.Single(await receiver.WhenAsync(e => e.Count >= 1, "the embargo lifting"));
        Assert.True(DateTimeOffset.UtcNow >= release, "heard of before the release time");
        Assert.Equal((EventType.EmbargoLifted, "PAN", "REFUGEES", "2023"), (lifted.Type, lifted.Country, lifted.IndicatorCode, lifted.Period));
        Assert.Equal(release.ToUnixTimeMilliseconds(), lifted.OccurTime.ToDateTimeOffset().ToUnixTimeMilliseconds());
        await Task.Delay(500);
        Assert.Single(receiver.Requests);
    }

    /// <summary>
    /// A State's approver subscribes at the Secretariat's node and hears what the Secretariat received and decided about its
    /// own figures (data received, accepted, rejected). Think as a hostile State: Belize's approver at the Secretariat sees
    /// neither Panama's nor the Secretariat's subscriptions, can neither remove them nor read their deliveries (NOT_FOUND),
    /// hears nothing of Panama, may not name the Secretariat's own event types nor point a subscription at a private or
    /// metadata address, and filling its own quota leaves the others theirs.
    /// </summary>
    [Fact]
    public async Task A_State_subscribes_at_the_Secretariat_and_hears_only_of_its_own_figures()
    {
        await using var panReceiver = await WebhookReceiver.StartAsync();
        await using var blzReceiver = await WebhookReceiver.StartAsync();
        await using var central = await WebhookReceiver.StartAsync();
        await using var pan = await TestNode.StartAsync("PAN", null, [ShareWithAll, .. WebhookArgs]);
        // The States' receivers here are on loopback, as the test's are: the Secretariat lets PAN's and BLZ's subscriptions reach it.
        await using var secretariat = await SecretariatAsync(pan.Folder, pan.Peer, "--Webhooks:MaxSubscriptions=2", "--Webhooks:TrustedOwners:0=PAN",
            "--Webhooks:TrustedOwners:1=BLZ");
        NotificationService.NotificationServiceClient AtSecretariat(ClientCredential credential, string scope = ApproveScopes) =>
            Notifications(secretariat.Address, secretariat.Identity, credential, MirpsAuth.Secretariat, scope);
        var panHooks = AtSecretariat(await SharedIdentity.ApproverAsync("PAN"));
        var blzHooks = AtSecretariat(await SharedIdentity.ApproverAsync("BLZ"));
        var secretariatApprover = await SharedIdentity.ApproverAsync("");
        var centralHooks = AtSecretariat(secretariatApprover);
        var panCreated = await panHooks.CreateSubscriptionAsync(Subscribe(panReceiver.Url, EventType.DataReceived, EventType.Accepted, EventType.Rejected, EventType.DueSoon, EventType.Overdue));
        Assert.Equal("PAN", panCreated.Subscription.Owner);
        var panId = panCreated.Subscription.SubscriptionId;
        var blzCreated = await blzHooks.CreateSubscriptionAsync(Subscribe(blzReceiver.Url, EventType.DataReceived, EventType.Accepted, EventType.Rejected, EventType.DueSoon, EventType.Overdue));
        var centralId = (await centralHooks.CreateSubscriptionAsync(Subscribe(central.Url, EventType.DataReceived, EventType.Approved, EventType.Accepted)))
            .Subscription.SubscriptionId;

        // Each owner lists its own only; another's id is as unknown as a made-up one, and nothing is removed.
        Assert.Equal([blzCreated.Subscription.SubscriptionId], (await blzHooks.ListSubscriptionsAsync(new ListSubscriptionsRequest())).Subscriptions.Select(s => s.SubscriptionId));
        Assert.Equal([centralId], (await centralHooks.ListSubscriptionsAsync(new ListSubscriptionsRequest())).Subscriptions.Select(s => s.SubscriptionId));
        foreach (var id in new[] { panId, centralId })
        {
            await RpcAssert.ReasonAsync(() => blzHooks.DeleteSubscriptionAsync(new DeleteSubscriptionRequest { SubscriptionId = id }).ResponseAsync, StatusCode.NotFound, "SUBSCRIPTION_NOT_FOUND");
            await RpcAssert.ReasonAsync(() => blzHooks.ListDeliveriesAsync(new ListDeliveriesRequest { SubscriptionId = id }).ResponseAsync, StatusCode.NotFound, "SUBSCRIPTION_NOT_FOUND");
        }
        await RpcAssert.ReasonAsync(() => centralHooks.DeleteSubscriptionAsync(new DeleteSubscriptionRequest { SubscriptionId = panId }).ResponseAsync, StatusCode.NotFound,
            "SUBSCRIPTION_NOT_FOUND");
        // A State hears of approvals on its own node: the Secretariat's other event types are not a State's there.
        foreach (var type in new[] { EventType.Approved, EventType.Unapproved, EventType.ChangedSinceApproval, EventType.EmbargoLifted })
        {
            await RpcAssert.InvalidArgumentAsync(() => blzHooks.CreateSubscriptionAsync(Subscribe(blzReceiver.Url, EventType.Accepted, type)).ResponseAsync, "event_types[1]");
        }
        // The SSRF rules hold at the Secretariat for a State's receiver too.
        foreach (var url in new[] { "https://10.0.0.5/x", "https://169.254.169.254/latest/meta-data/", "https://[64:ff9b::a9fe:a9fe]/x", "https://[fd12::1]/x", "http://hooks.example.org/x" })
        {
            await RpcAssert.InvalidArgumentAsync(() => blzHooks.CreateSubscriptionAsync(Subscribe(url, EventType.Accepted)).ResponseAsync, "url");
        }
        // Without the approve scope, nothing.
        var reader = AtSecretariat(await SharedIdentity.CredentialAsync("BLZ"), MirpsAuth.ReadScope);
        await RpcAssert.ReasonAsync(() => reader.ListSubscriptionsAsync(new ListSubscriptionsRequest()).ResponseAsync, StatusCode.PermissionDenied, "MISSING_SCOPE");
        await RpcAssert.ReasonAsync(() => reader.CreateSubscriptionAsync(Subscribe(blzReceiver.Url, EventType.Accepted)).ResponseAsync, StatusCode.PermissionDenied, "MISSING_SCOPE");
        // Quotas are per owner: Belize fills its own, and the Secretariat and Panama keep theirs.
        await blzHooks.CreateSubscriptionAsync(Subscribe("https://hooks.blz.example/mirps", EventType.Overdue));
        await RpcAssert.ReasonAsync(() => blzHooks.CreateSubscriptionAsync(Subscribe("https://hooks.blz.example/more", EventType.Overdue)).ResponseAsync,
            StatusCode.ResourceExhausted, "TOO_MANY_SUBSCRIPTIONS");
        await centralHooks.CreateSubscriptionAsync(Subscribe("https://hooks.example.org/mirps", EventType.Overdue));
        await panHooks.CreateSubscriptionAsync(Subscribe("https://hooks.pan.example/mirps", EventType.Overdue));
        Assert.Equal(6L, secretariat.CountRows("webhook_subscriptions"));

        // Panama's figures arrive and are approved, accepted, then rejected; Belize's arrive too.
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        await Approvals(pan, await SharedIdentity.ApproverAsync("PAN")).ApproveDataAsync(Approve());
        await central.WhenAsync(e => e.Any(x => x.Type == EventType.Approved) && e.Any(x => x.Type == EventType.DataReceived), "the Secretariat holds PAN's data and approval");
        var acceptor = new ApprovalService.ApprovalServiceClient(AuthenticatedChannel.Create(new Uri(secretariat.Address),
            new TokenClient(secretariat.Identity.Http, secretariat.Identity.TokenEndpoint, secretariatApprover, ApproveScopes, MirpsAuth.NodeAudience(MirpsAuth.Secretariat))));
        await acceptor.AcceptDataAsync(new AcceptDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" } });
        await acceptor.RejectDataAsync(new RejectDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" }, Reason = "the age breakdown is missing" });
        await secretariat.ReplicateAsync(DateTimeOffset.UtcNow, [Refugees("BLZ", value: 240)]);

        var heard = await panReceiver.WhenAsync(e => e.Any(x => x.Type == EventType.Rejected), "PAN hears the Secretariat rejected its figures");
        Assert.Equal([EventType.DataReceived, EventType.Accepted, EventType.Rejected], heard.Select(e => e.Type));
        Assert.All(heard, e => Assert.Equal("PAN", e.Country));
        Assert.Equal("the age breakdown is missing", heard[2].Reason);
        Assert.True(panReceiver.AllVerified(panCreated.Secret), "PAN's deliveries do not verify with its secret");
        var blzHeard = await blzReceiver.WhenAsync(e => e.Any(x => x.Type == EventType.DataReceived), "BLZ hears the Secretariat received its figures");
        await central.WhenAsync(e => e.Any(x => x.Type == EventType.DataReceived && x.Country == "BLZ") && e.Any(x => x.Type == EventType.Accepted), "the Secretariat hears of both");
        await Task.Delay(500); // several rounds in which PAN's events would reach Belize
        Assert.All(blzReceiver.Accepted, e => Assert.Equal("BLZ", e.Country));
        Assert.Equal([EventType.DataReceived], blzReceiver.Accepted.Select(e => e.Type));
        Assert.True(blzReceiver.AllVerified(blzCreated.Secret));
        Assert.Equal(3, panReceiver.Accepted.Count);
        Assert.Equal(3, (await panHooks.ListDeliveriesAsync(new ListDeliveriesRequest { SubscriptionId = panId })).Deliveries.Count);
        Assert.Single(blzHeard);
    }

    /// <summary>
    /// Issue 15's CalendarEvents defect: a cell once approved, then unapproved, was still treated as approved, so its due
    /// date passed in silence. PAN approves 2023, and the due-soon round names the six other States only; PAN withdraws its
    /// approval, and 2023 is due soon for PAN too.
    /// </summary>
    [Fact]
    public async Task A_cell_approved_then_unapproved_is_due_soon_again_with_the_test_clock()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var pan = await TestNode.StartAsync("PAN", null, [ShareWithAll, .. WebhookArgs]);
        await using var secretariat = await SecretariatAsync(pan.Folder, pan.Peer,
            "--Calendar:Rules:0:GroupId=POPULATIONS", "--Calendar:Rules:0:Granularity=year", "--Calendar:Rules:0:DueDays=45", "--Webhooks:DueSoonDays=7");
        var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        async Task SecretariatHoldsEntriesAsync(long count)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (secretariat.CountRows(ApprovalTests.PanEntries) < count)
            {
                Assert.True(DateTime.UtcNow < deadline, $"the Secretariat never held {count} lifecycle entries of PAN");
                await Task.Delay(100);
            }
        }
        // 2023 is due 2024-02-14; on 2024-02-10 it is due soon for every State without an approval standing.
        var dueSoon = new DateTimeOffset(2024, 2, 10, 12, 0, 0, TimeSpan.Zero);
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        await state.ApproveDataAsync(Approve());
        await SecretariatHoldsEntriesAsync(1);
        await Notifications(secretariat.Address, secretariat.Identity, await SharedIdentity.ApproverAsync(""), MirpsAuth.Secretariat)
            .CreateSubscriptionAsync(Subscribe(receiver.Url, EventType.DueSoon, EventType.Overdue));
        secretariat.Clock.Pinned = dueSoon;
        await receiver.WhenAsync(e => e.Count >= 6, "due soon for the six States without an approval");
        await Task.Delay(500);
        secretariat.Clock.Pinned = null;
        Assert.Equal(6, receiver.Accepted.Count);
        Assert.DoesNotContain(receiver.Accepted, e => e.Country == "PAN");

        await state.UnapproveDataAsync(new UnapproveDataRequest { GroupIds = { Populations }, Periods = { "2023" }, Reason = "a correction" });
        await SecretariatHoldsEntriesAsync(2);
        secretariat.Clock.Pinned = dueSoon;
        var all = await receiver.WhenAsync(e => e.Any(x => x.Country == "PAN"), "PAN due soon again once it withdrew its approval");
        secretariat.Clock.Pinned = null;
        var panDue = Assert.Single(all, e => e.Country == "PAN");
        Assert.Equal((EventType.DueSoon, Populations, "2023", "2024-02-14"), (panDue.Type, panDue.GroupId, panDue.Period, panDue.DueDate));
    }

    /// <summary>
    /// Webhooks:Retention (here 10 days) with the test clock: nine days on, nothing is pruned; eleven days on, a delivered
    /// event's delivery and attempts are gone, while an undelivered one (its receiver down) keeps its delivery, its attempts
    /// and its event; once that one is delivered too and the retention has passed, nothing of either is left but the
    /// subscriptions.
    /// </summary>
    [Fact]
    public async Task Delivered_events_are_pruned_after_the_retention_and_undelivered_ones_kept_with_the_test_clock()
    {
        await using var up = await WebhookReceiver.StartAsync();
        await using var down = await WebhookReceiver.StartAsync();
        down.DefaultStatus = 503;
        await using var secretariat = await TestSecretariat.StartAsync(
            [.. WebhookArgs, "--Webhooks:Retention=10.00:00:00", "--Webhooks:PruneInterval=00:00:00.100", "--Webhooks:LookbackDays=3", "--Webhooks:DueSoonDays=1"]);
        var hooks = Notifications(secretariat.Address, secretariat.Identity, await SharedIdentity.ApproverAsync(""), MirpsAuth.Secretariat);
        var delivered = (await hooks.CreateSubscriptionAsync(Subscribe(up.Url, EventType.DataReceived))).Subscription.SubscriptionId;
        var waiting = (await hooks.CreateSubscriptionAsync(Subscribe(down.Url, EventType.DataReceived))).Subscription.SubscriptionId;
        await secretariat.ReplicateAsync(DateTimeOffset.UtcNow, [Refugees("BLZ", value: 240)]);
        await up.WhenAsync(e => e.Count == 1, "the data received");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (down.Requests.Count < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "the receiver that is down was not tried twice");
            await Task.Delay(50);
        }
        async Task UntilAsync(Func<bool> done, string what)
        {
            var until = DateTime.UtcNow.AddSeconds(30);
            while (!done())
            {
                Assert.True(DateTime.UtcNow < until, what);
                await Task.Delay(50);
            }
        }
        long Rows(string table) => secretariat.CountRows(table);
        const string Orphans = "webhook_attempts WHERE delivery_id NOT IN (SELECT id FROM webhook_deliveries)";
        Assert.Equal((2L, 1L), (Rows("webhook_deliveries"), Rows("webhook_events")));

        var start = DateTimeOffset.UtcNow;
        secretariat.Clock.Pinned = start.AddDays(9);
        await Task.Delay(600); // a prune round ran: within the retention, nothing goes
        Assert.Equal((2L, 1L), (Rows("webhook_deliveries"), Rows("webhook_events")));

        secretariat.Clock.Pinned = start.AddDays(11);
        await UntilAsync(() => Rows("webhook_deliveries") == 1, "the delivered event was not pruned after the retention");
        Assert.Equal(1L, Rows("webhook_events")); // the undelivered delivery still sends it
        Assert.Equal(0L, Rows(Orphans));
        Assert.True(Rows("webhook_attempts") >= 2, "the undelivered event's attempts were pruned");
        Assert.Equal(1L, Rows("webhook_deliveries WHERE delivered = FALSE"));

        down.DefaultStatus = 200; // the receiver is back: the event goes out at its next attempt, delivered at day 11
        var resumed = DateTimeOffset.UtcNow;
        await UntilAsync(() =>
        {
            secretariat.Clock.Pinned = start.AddDays(11) + (DateTimeOffset.UtcNow - resumed); // the clock runs on from day 11
            return Rows("webhook_deliveries WHERE delivered = FALSE") == 0;
        }, "the waiting event was not delivered once its receiver was back");
        Assert.Single(down.Accepted);
        secretariat.Clock.Pinned = start.AddDays(22);
        await UntilAsync(() => Rows("webhook_deliveries") == 0 && Rows("webhook_events") == 0, "the last delivery and its event were not pruned");
        Assert.Equal(0L, Rows("webhook_attempts"));
        secretariat.Clock.Pinned = null;

        Assert.Equal(2, (await hooks.ListSubscriptionsAsync(new ListSubscriptionsRequest())).Subscriptions.Count);
        Assert.Empty((await hooks.ListDeliveriesAsync(new ListDeliveriesRequest { SubscriptionId = delivered })).Deliveries);
        Assert.Empty((await hooks.ListDeliveriesAsync(new ListDeliveriesRequest { SubscriptionId = waiting })).Deliveries);
        Assert.Single(up.Accepted);
    }

    /// <summary>
    /// Issue 15's late-data gap: PAN holds drafts back; its 2023 figure (change 1) waits at the Secretariat as a placeholder
    /// while its 2022 figure (change 2) is approved and arrives, which moves the Secretariat's cursor past change 1. When PAN
    /// approves 2023, change 1 arrives late, with a lower sequence, and the Secretariat's receiver hears of it, once.
    /// </summary>
    [Fact]
    public async Task Data_received_late_with_a_lower_sequence_is_announced()
    {
        await using var central = await WebhookReceiver.StartAsync();
        await using var pan = await TestNode.StartAsync("PAN", null, [ShareWithAll, "--Node:Sharing:Default:HoldDrafts=true", .. WebhookArgs]);
        await using var secretariat = await SecretariatAsync(pan.Folder, pan.Peer);
        await Notifications(secretariat.Address, secretariat.Identity, await SharedIdentity.ApproverAsync(""), MirpsAuth.Secretariat)
            .CreateSubscriptionAsync(Subscribe(central.Url, EventType.DataReceived));
        var approvals = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230))); // change 1 (2023), a draft held back
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2022", value: 200))); // change 2 (2022)
        await approvals.ApproveDataAsync(Approve("2022"));
        var first = Assert.Single(await central.WhenAsync(e => e.Count >= 1, "PAN's approved 2022"));
        Assert.Equal((2L, 2L), (first.FromSequence, first.ToSequence));

        await approvals.ApproveDataAsync(Approve("2023"));
        var all = await central.WhenAsync(e => e.Count >= 2, "PAN's 2023, arrived after its 2022 with a lower sequence");
        Assert.Equal((EventType.DataReceived, "PAN", 1L, 1L), (all[1].Type, all[1].Country, all[1].FromSequence, all[1].ToSequence));
        await Task.Delay(500);
        Assert.Equal(2, central.Accepted.Count);
        Assert.Equal(0L, secretariat.CountRows("webhook_cursors WHERE source LIKE 'late:%'")); // nothing left waiting
    }

    /// <summary>Host names with the test's own answers, as a DNS server inside the Secretariat's network would give them.</summary>
    private sealed class InternalDns(Dictionary<string, System.Net.IPAddress[]> answers) : WebhookHostResolver
    {
        public override Task<System.Net.IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
            answers.TryGetValue(host, out var addresses) ? Task.FromResult(addresses) : base.ResolveAsync(host, cancellationToken);
    }

    /// <summary>
    /// Hostile-review finding F6 (a, b). The Secretariat's receivers are on its internal network, so its node allows loopback
    /// and private addresses; a State subscribing there must not reach that network through them. PAN's approver may not
    /// point a subscription at a private or loopback address, and a host name that resolves to one (hooks.pan.example, in the
    /// Secretariat's DNS) is refused when a delivery connects, with an error that names neither address: the delivery log
    /// does not answer a State's questions about the Secretariat's DNS. The Secretariat's own receiver on loopback is heard.
    /// </summary>
    [Fact]
    public async Task At_the_Secretariat_only_its_own_receivers_may_be_internal_and_a_refusal_names_no_address()
    {
        await using var central = await WebhookReceiver.StartAsync();
        var internalAnswers = new Dictionary<string, System.Net.IPAddress[]>
        {
            ["hooks.pan.example"] = [System.Net.IPAddress.Parse("10.20.30.40"), System.Net.IPAddress.Parse("127.0.0.1"), System.Net.IPAddress.Parse("fd12:3456::7")],
        };
        await using var secretariat = await TestSecretariat.StartAsync(builder => builder.Services.AddSingleton<WebhookHostResolver>(new InternalDns(internalAnswers)),
            [.. WebhookArgs, "--Webhooks:AllowPrivate=true", "--Webhooks:AllowLinkLocal=true"]);
        NotificationService.NotificationServiceClient AtSecretariat(ClientCredential credential) =>
            Notifications(secretariat.Address, secretariat.Identity, credential, MirpsAuth.Secretariat);
        var panHooks = AtSecretariat(await SharedIdentity.ApproverAsync("PAN"));
        var centralHooks = AtSecretariat(await SharedIdentity.ApproverAsync(""));

        // PAN: no private, loopback or link-local receiver, although the node allows them for the Secretariat's own.
        foreach (var url in new[] { "https://10.0.0.5/x", "https://192.168.1.1/x", "https://[fd12::1]/x", "http://127.0.0.1:9/x", "https://localhost/x", "https://169.254.169.254/x", central.Url })
        {
            await RpcAssert.InvalidArgumentAsync(() => panHooks.CreateSubscriptionAsync(Subscribe(url, EventType.DataReceived)).ResponseAsync, "url");
        }
        Assert.Equal(0L, secretariat.CountRows("webhook_subscriptions"));
        // The Secretariat: its own receivers, on loopback and on its private network.
        await centralHooks.CreateSubscriptionAsync(Subscribe(central.Url, EventType.DataReceived));
        await centralHooks.CreateSubscriptionAsync(Subscribe("https://10.0.0.5/x", EventType.Overdue));
        // PAN names a host that resolves inside the Secretariat's network: accepted (a name), refused when a delivery connects.
        var panId = (await panHooks.CreateSubscriptionAsync(Subscribe("https://hooks.pan.example/mirps", EventType.DataReceived))).Subscription.SubscriptionId;

        await secretariat.ReplicateAsync(DateTimeOffset.UtcNow, [Refugees("PAN", value: 230)]);
        Assert.Equal("PAN", Assert.Single(await central.WhenAsync(e => e.Count >= 1, "the Secretariat hears of PAN's data")).Country);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        Delivery? refused = null;
        while (refused is null || refused.Attempts.Count < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "PAN's delivery was never tried twice");
            await Task.Delay(100);
            refused = (await panHooks.ListDeliveriesAsync(new ListDeliveriesRequest { SubscriptionId = panId })).Deliveries.SingleOrDefault();
        }
        Assert.False(refused.Delivered);
        var listed = Assert.Single((await panHooks.ListSubscriptionsAsync(new ListSubscriptionsRequest())).Subscriptions);
        foreach (var error in refused.Attempts.Select(a => a.Error).Append(listed.LastError))
        {
            Assert.Equal(WebhookUrls.Unreachable("hooks.pan.example"), error);
            foreach (var address in new[] { "10.20.30.40", "127.0.0.1", "fd12:3456::7", "10.", "fd12" })
            {
                Assert.DoesNotContain(address, error, StringComparison.Ordinal);
            }
        }
        Assert.Equal(1L, secretariat.CountRows("webhook_deliveries WHERE delivered = TRUE"));
    }

    /// <summary>A loopback port nothing listens on any more: connections to it are refused.</summary>
    private static int ClosedPort()
    {
        using var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        var port = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        return port;
    }

    /// <summary>The Secretariat answering host names from <paramref name="answers"/> only, its webhook log in <paramref name="log"/>, BLZ trusted with loopback.</summary>
    private static Task<TestSecretariat> SecretariatWithDnsAsync(Dictionary<string, System.Net.IPAddress[]> answers, OperatorLog log, params string[] more) =>
        TestSecretariat.StartAsync(builder =>
        {
            builder.Services.AddSingleton<WebhookHostResolver>(new ClosedDns(answers));
            builder.Logging.AddProvider(log);
            builder.Logging.AddFilter<OperatorLog>(typeof(WebhookUrls).FullName, LogLevel.Information);
        }, [.. WebhookArgs, "--Webhooks:TrustedOwners:0=BLZ", .. more]);

    /// <summary>The first two attempts of a subscription's one delivery and its last error, with <paramref name="host"/> read as HOST.</summary>
    private static async Task<(List<(int, string)> Attempts, string LastError)> TriedTwiceAsync(NotificationService.NotificationServiceClient hooks, string id, string host)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var delivery = (await hooks.ListDeliveriesAsync(new ListDeliveriesRequest { SubscriptionId = id })).Deliveries.SingleOrDefault();
            Assert.True(DateTime.UtcNow < deadline, $"the delivery to {host} was never tried twice: {delivery}");
            if (delivery is { Attempts.Count: >= 2 })
            {
                var listed = (await hooks.ListSubscriptionsAsync(new ListSubscriptionsRequest())).Subscriptions.Single(s => s.SubscriptionId == id);
                return ([.. delivery.Attempts.Take(2).Select(a => (a.StatusCode, a.Error.Replace(host, "HOST", StringComparison.Ordinal)))],
                    listed.LastError.Replace(host, "HOST", StringComparison.Ordinal));
            }
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// Issue 15: a filtered host (it takes no connection and refuses none) read "no answer within N s", the request's own
    /// timeout, where a refused connection reads as one that does not resolve: a State could tell a filtered address from a
    /// closed one. Now a connection not taken within Webhooks:ConnectTimeout reads as the refused one, word for word; the node's
    /// log says it timed out. The filtered host is a loopback socket whose accept queue is full (nothing accepts from it).
    /// </summary>
    [Fact]
    public async Task A_filtered_receiver_reads_as_a_refused_one_in_the_delivery_log()
    {
        var closedPort = ClosedPort();
        using var filtered = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        filtered.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        filtered.Listen(0);
        var filteredEnd = (System.Net.IPEndPoint)filtered.LocalEndPoint!;
        var queued = new List<System.Net.Sockets.Socket>();
        try
        {
            // Fill its accept queue: then the kernel drops every further SYN, as a firewall does.
            var full = false;
            for (var i = 0; i < 16 && !full; i++)
            {
                var client = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
                try
                {
                    await client.ConnectAsync(filteredEnd, wait.Token);
                    queued.Add(client);
                }
                catch (OperationCanceledException)
                {
                    client.Dispose();
                    full = true;
                }
            }
            Assert.True(full, "the listening socket's accept queue never filled");
            var answers = new Dictionary<string, System.Net.IPAddress[]>
            {
                ["closed.example"] = [System.Net.IPAddress.Loopback],
                ["filtered.example"] = [System.Net.IPAddress.Loopback],
            };
            var log = new OperatorLog();
            await using var secretariat = await SecretariatWithDnsAsync(answers, log, "--Webhooks:Timeout=00:00:04", "--Webhooks:ConnectTimeout=00:00:01");
            var hooks = Notifications(secretariat.Address, secretariat.Identity, await SharedIdentity.ApproverAsync("BLZ"), MirpsAuth.Secretariat);
            var refusing = (await hooks.CreateSubscriptionAsync(Subscribe($"https://closed.example:{closedPort}/mirps", EventType.DataReceived))).Subscription.SubscriptionId;
            var silent = (await hooks.CreateSubscriptionAsync(Subscribe($"https://filtered.example:{filteredEnd.Port}/mirps", EventType.DataReceived))).Subscription.SubscriptionId;

            await secretariat.ReplicateAsync(DateTimeOffset.UtcNow, [Refugees("BLZ", value: 240)]);
            var fromClosed = await TriedTwiceAsync(hooks, refusing, "closed.example");
            var fromFiltered = await TriedTwiceAsync(hooks, silent, "filtered.example");
            Assert.All(fromFiltered.Attempts.Concat(fromClosed.Attempts), a => Assert.Equal(fromClosed.Attempts[0], a));
            Assert.Equal(fromClosed.LastError, fromFiltered.LastError);
            Assert.Equal((0, WebhookUrls.Unreachable("HOST")), fromFiltered.Attempts[0]);
            Assert.Contains(log.Lines, l => l.Contains("filtered.example", StringComparison.Ordinal) && l.Contains("Webhooks:ConnectTimeout", StringComparison.Ordinal));
        }
        finally
        {
            queued.ForEach(s => s.Dispose());
        }
    }

    /// <summary>Host names the Secretariat's DNS does not know: a deliberate "does not resolve", never a look-up beyond the test.</summary>
    private sealed class ClosedDns(Dictionary<string, System.Net.IPAddress[]> answers) : WebhookHostResolver
    {
        public override Task<System.Net.IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) =>
            answers.TryGetValue(host, out var addresses) ? Task.FromResult(addresses) : throw new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.HostNotFound);
    }

    /// <summary>The node's Information log of the webhook classes: what its operators read.</summary>
    private sealed class OperatorLog : ILoggerProvider
    {
        public System.Collections.Concurrent.ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(OperatorLog owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
                Func<TState, Exception?, string> formatter) => owner.Lines.Enqueue(formatter(state, exception));
        }
    }

    /// <summary>
    /// Hostile-review finding H: PAN, subscribing at the Secretariat's node, learnt which host names resolve inside the
    /// Secretariat's network from its delivery log: "refused: ... resolves only to addresses this node does not call" for
    /// a name inside, "does not resolve" for a name that does not, "could not connect ... ConnectionRefused" for one that
    /// does but is closed. Now all three read the same to the subscriber (the host as given aside), with the same status;
    /// the node's own log keeps which it was.
    /// </summary>
    [Fact]
    public async Task A_State_cannot_tell_from_its_delivery_log_which_host_names_resolve_inside_the_nodes_network()
    {
        var closedPort = ClosedPort();
        var answers = new Dictionary<string, System.Net.IPAddress[]>
        {
            ["inside.pan.example"] = [System.Net.IPAddress.Parse("10.20.30.40")],
            ["closed.example"] = [System.Net.IPAddress.Loopback],
        };
        var log = new OperatorLog();
        await using var secretariat = await SecretariatWithDnsAsync(answers, log);
        NotificationService.NotificationServiceClient AtSecretariat(ClientCredential credential) =>
            Notifications(secretariat.Address, secretariat.Identity, credential, MirpsAuth.Secretariat);
        var panHooks = AtSecretariat(await SharedIdentity.ApproverAsync("PAN"));
        var inside = (await panHooks.CreateSubscriptionAsync(Subscribe("https://inside.pan.example/mirps", EventType.DataReceived))).Subscription.SubscriptionId;
        var nowhere = (await panHooks.CreateSubscriptionAsync(Subscribe("https://nowhere.pan.example/mirps", EventType.DataReceived))).Subscription.SubscriptionId;
        // BLZ, trusted with loopback (Webhooks:TrustedOwners), names a host that resolves, to a port nobody listens on.
        var blzHooks = AtSecretariat(await SharedIdentity.ApproverAsync("BLZ"));
        var refusing = (await blzHooks.CreateSubscriptionAsync(Subscribe($"https://closed.example:{closedPort}/mirps", EventType.DataReceived))).Subscription.SubscriptionId;

        await secretariat.ReplicateAsync(DateTimeOffset.UtcNow, [Refugees("PAN", value: 230), Refugees("BLZ", value: 240)]);
        var fromInside = await TriedTwiceAsync(panHooks, inside, "inside.pan.example");
        var fromNowhere = await TriedTwiceAsync(panHooks, nowhere, "nowhere.pan.example");
        var fromClosed = await TriedTwiceAsync(blzHooks, refusing, "closed.example");
        Assert.All(fromInside.Attempts.Concat(fromNowhere.Attempts).Concat(fromClosed.Attempts), a => Assert.Equal(fromInside.Attempts[0], a));
        Assert.Equal(fromInside.LastError, fromNowhere.LastError);
        Assert.Equal(fromInside.LastError, fromClosed.LastError);
        Assert.Contains("HOST", fromInside.LastError, StringComparison.Ordinal);
        Assert.DoesNotContain("10.20", fromInside.LastError, StringComparison.Ordinal);

        // The operators can tell them apart.
        var lines = log.Lines.ToList();
        Assert.Contains(lines, l => l.Contains("inside.pan.example", StringComparison.Ordinal) && l.Contains("10.20.30.40", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("nowhere.pan.example", StringComparison.Ordinal) && l.Contains("HostNotFound", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("closed.example", StringComparison.Ordinal) && l.Contains("ConnectionRefused", StringComparison.Ordinal));
    }

    /// <summary>
    /// Hostile-review finding F6 (c): a receiver that takes its time (here 8 s of a 20 s Webhooks:Timeout) held every
    /// delivery round, so every other subscription's events waited for it. Now each subscription's delivery runs on its own:
    /// the other receiver hears of the second approval within a few seconds while the slow one still holds the first.
    /// </summary>
    [Fact]
    public async Task A_receiver_that_stalls_does_not_delay_another_subscriptions_deliveries()
    {
        await using var slow = await WebhookReceiver.StartAsync();
        await using var fast = await WebhookReceiver.StartAsync();
        slow.Stall = TimeSpan.FromSeconds(8);
        await using var pan = await TestNode.StartAsync("PAN", null, [.. WebhookArgs, "--Webhooks:Timeout=00:00:20"]);
        var hooks = Notifications(pan, await SharedIdentity.ApproverAsync("PAN"));
        var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        await hooks.CreateSubscriptionAsync(Subscribe(slow.Url, EventType.Approved));
        await hooks.CreateSubscriptionAsync(Subscribe(fast.Url, EventType.Approved));
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230), Refugees("PAN", period: "2022", value: 200)));

        await state.ApproveDataAsync(Approve("2022"));
        await fast.WhenAsync(e => e.Count == 1, "the first approval");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (slow.Requests.IsEmpty)
        {
            Assert.True(DateTime.UtcNow < deadline, "the slow receiver was never called");
            await Task.Delay(20);
        }
        var approved = System.Diagnostics.Stopwatch.StartNew();
        await state.ApproveDataAsync(Approve("2023"));
        await fast.WhenAsync(e => e.Count == 2, "the second approval, while the slow receiver still holds the first", seconds: 20);
        Assert.True(approved.Elapsed < TimeSpan.FromSeconds(4), $"the second approval reached the other receiver after {approved.Elapsed.TotalSeconds:0.0} s");
        Assert.Single(slow.Requests); // still answering the first

        var both = await slow.WhenAsync(e => e.Count == 2, "both approvals, in order, at the slow receiver's pace");
        Assert.Equal(["2022", "2023"], both.Select(e => e.Period));
    }

    /// <summary>
    /// Hostile-review finding E: the delivery slots (Webhooks:MaxConcurrentDeliveries) were shared by all owners, so a State
    /// pointing its subscriptions at the Secretariat's node to a receiver that stalls held every slot, and the Secretariat's own
    /// notifications waited behind its backlog. Now one owner holds at most Webhooks:MaxConcurrentDeliveriesPerOwner (4 by
    /// default) of them: PAN's six stalled deliveries hold four of the six slots, and the Secretariat hears of an approval at once.
    /// </summary>
    [Fact]
    public async Task One_owners_stalled_receivers_do_not_hold_every_delivery_slot_from_another_owner()
    {
        await using var stalled = await WebhookReceiver.StartAsync();
        await using var central = await WebhookReceiver.StartAsync();
        stalled.Stall = TimeSpan.FromSeconds(20);
        await using var pan = await TestNode.StartAsync("PAN", null, [ShareWithAll, .. WebhookArgs]);
        await using var secretariat = await SecretariatAsync(pan.Folder, pan.Peer, "--Webhooks:TrustedOwners:0=PAN", "--Webhooks:Timeout=00:00:30",
            "--Webhooks:MaxConcurrentDeliveries=6");
        var panHooks = Notifications(secretariat.Address, secretariat.Identity, await SharedIdentity.ApproverAsync("PAN"), MirpsAuth.Secretariat);
        for (var i = 0; i < 6; i++)
        {
            await panHooks.CreateSubscriptionAsync(Subscribe($"{stalled.Url}?n={i}", EventType.DataReceived));
        }
        await Notifications(secretariat.Address, secretariat.Identity, await SharedIdentity.ApproverAsync(""), MirpsAuth.Secretariat)
            .CreateSubscriptionAsync(Subscribe(central.Url, EventType.Approved));

        // PAN's figures reach the Secretariat: each of PAN's six subscriptions has its DATA_RECEIVED in flight to the stalled receiver.
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (stalled.Requests.Count < 4)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the stalled receiver was called {stalled.Requests.Count} times");
            await Task.Delay(20);
        }
        await Task.Delay(500); // the other two of PAN's deliveries take their slots too, when the per-owner cap does not stop them
        var inFlight = stalled.Requests.Count;

        var approved = System.Diagnostics.Stopwatch.StartNew();
        await Approvals(pan, await SharedIdentity.ApproverAsync("PAN")).ApproveDataAsync(Approve());
        await central.WhenAsync(e => e.Any(x => x.Type == EventType.Approved), "PAN's approval, while PAN's receiver holds its deliveries", seconds: 25);
        Assert.True(approved.Elapsed < TimeSpan.FromSeconds(6), $"the Secretariat heard of the approval after {approved.Elapsed.TotalSeconds:0.0} s");
        Assert.Equal((4, 4), (inFlight, stalled.Requests.Count)); // PAN's other two wait for a slot of PAN's own
    }

    /// <summary>
    /// Issue 15's limit "no CHANGED_SINCE_APPROVAL for late arrivals": PAN's REFUGEES are embargoed, so the Secretariat holds
    /// PAN's figure (change 1) and its revision after the approval (change 2) as placeholders while the approval arrives.
    /// When the embargo lifts, both arrive late, in one round: one DATA_RECEIVED names them, and the revision is a change since
    /// the approval, heard of once.
    /// </summary>
    [Fact]
    public async Task A_change_since_approval_that_arrives_late_is_announced_once()
    {
        await using var central = await WebhookReceiver.StartAsync();
        var release = DateTimeOffset.UtcNow.AddSeconds(40); // time to start both nodes and hold the placeholders, on a loaded machine too
        await using var pan = await TestNode.StartAsync("PAN", null, [ShareWithAll, $"--Node:Sharing:Indicators:REFUGEES:ReleaseTime={release:O}", .. WebhookArgs]);
        await using var secretariat = await SecretariatAsync(pan.Folder, pan.Peer);
        var started = DateTimeOffset.UtcNow;
        await Notifications(secretariat.Address, secretariat.Identity, await SharedIdentity.ApproverAsync(""), MirpsAuth.Secretariat)
            .CreateSubscriptionAsync(Subscribe(central.Url, EventType.DataReceived, EventType.Approved, EventType.ChangedSinceApproval));
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        await Approvals(pan, await SharedIdentity.ApproverAsync("PAN")).ApproveDataAsync(Approve());
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 240))); // revised after the approval
        await central.WhenAsync(e => e.Any(x => x.Type == EventType.Approved), "PAN's approval");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (secretariat.CountRows("withheld_changes") < 2 && DateTimeOffset.UtcNow < release)
        {
            Assert.True(DateTime.UtcNow < deadline, "the Secretariat never held PAN's embargoed changes");
            await Task.Delay(100);
        }
        Assert.True(DateTimeOffset.UtcNow < release,
            $"the test was too slow: the embargo lifted before the Secretariat held both placeholders ({(DateTimeOffset.UtcNow - started).TotalSeconds:0.0} s after start, {secretariat.CountRows("withheld_changes")} held, {secretariat.CountRows("observations")} observations)");
        Assert.Single(central.Accepted); // nothing of the embargoed figures yet

        var all = await central.WhenAsync(e => e.Any(x => x.Type == EventType.ChangedSinceApproval), "the change since approval, once the embargo lifted",
            seconds: 30 + (int)Math.Max(0, (release - DateTimeOffset.UtcNow).TotalSeconds));
        Assert.True(DateTimeOffset.UtcNow >= release);
        await Task.Delay(500);
        var heard = central.Accepted;
        Assert.Equal(heard.Count, heard.Select(e => e.EventId).Distinct().Count());
        var changed = Assert.Single(heard, e => e.Type == EventType.ChangedSinceApproval);
        Assert.Equal(("PAN", 1L, 2L), (changed.Country, changed.EntrySequence, changed.FromSequence));
        var received = Assert.Single(heard, e => e.Type == EventType.DataReceived);
        Assert.Equal((1L, 2L), (received.FromSequence, received.ToSequence));
    }

    /// <summary>
    /// Issue 15, the upgrade window. The earlier version kept a sequence cursor per origin ("changes:PAN"); the received-time
    /// cursor that replaced it started at the present, so what the Secretariat had received between the old cursor and the
    /// upgrade was never announced. Here the Secretariat (its own process) hears of PAN's changes 1-2, receives 3-5 while its
    /// deriver waits an hour between rounds, and is restarted on the store as the earlier version left it: the old cursor at
    /// change 2, no received-time cursor. It announces 3-5, and 1-2 not again, then change 6 as usual; the old cursor is gone.
    /// </summary>
    [Fact]
    public async Task After_an_upgrade_from_sequence_cursors_what_was_received_since_the_old_cursor_is_announced_once()
    {
        var identity = await SharedIdentity.GetAsync();
        var folder = TempFolder.Create();
        var database = await TestStores.CreateAsync();
        try
        {
            await using var central = await WebhookReceiver.StartAsync();
            await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll);
            var credential = Path.Combine(folder, "secretariat.json");
            OwnerOnlyFile.WriteAllText(credential, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
            var data = Path.Combine(folder, "data");
            string[] args =
            [
                $"--Node:Credential={credential}", $"--Node:Peers:0:Address={pan.Address}", "--Node:Peers:0:Country=PAN", "--Node:Peers:0:Origins:0=PAN",
                .. database?.Args ?? [], .. WebhookArgs,
            ];
            long Sql(string sql)
            {
                using var connection = TestStores.Open(database, Path.Combine(data, "secretariat.db"));
                using var command = connection.CreateCommand();
                command.CommandText = sql;
                return Convert.ToInt64(command.ExecuteScalar() ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
            }
            async Task UntilAsync(Func<bool> done, string what)
            {
                for (var deadline = DateTime.UtcNow.AddSeconds(60); !done(); await Task.Delay(100))
                {
                    Assert.True(DateTime.UtcNow < deadline, what);
                }
            }
            async Task<ServiceProcess> SecretariatAsync(params string[] more)
            {
                var process = ServiceProcess.Secretariat(data, identity.Issuer, [.. args, .. more]);
                await process.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
                return process;
            }

            using (var before = await SecretariatAsync())
            {
                await Notifications(before.Address, identity, await SharedIdentity.ApproverAsync(""), MirpsAuth.Secretariat)
                    .CreateSubscriptionAsync(Subscribe(central.Url, EventType.DataReceived));
                await pan.Observations.SubmitObservationsAsync(Submit([.. DistinctRefugees(2, "PAN")]));
                await central.WhenAsync(e => e.Count >= 1, "PAN's changes 1-2");
                await UntilAsync(() => Sql("SELECT COUNT(*) FROM webhook_deliveries WHERE delivered = TRUE") == 1, "the delivery of 1-2 was not recorded");
            } // kill -9

            // The earlier version's deriver, behind: one round at start (its cursors were lost: it writes them anew), then none for an hour.
            Sql("DELETE FROM webhook_cursors");
            using (var behind = await SecretariatAsync("--Webhooks:PollInterval=01:00:00"))
            {
                await UntilAsync(() => Sql("SELECT COUNT(*) FROM webhook_cursors") > 0, "the deriver's first round did not write its cursors");
                await pan.Observations.SubmitObservationsAsync(Submit([.. DistinctRefugees(5, "PAN").Skip(2)]));
                await UntilAsync(() => Sql("SELECT COUNT(*) FROM observations WHERE origin = 'PAN'") == 5, "the Secretariat did not receive PAN's changes 3-5");
                Assert.Equal(1L, Sql("SELECT COUNT(*) FROM webhook_events"));
            }

            // As the earlier version left the store: its sequence cursor at PAN's change 2, no received-time cursor.
            Sql("DELETE FROM webhook_cursors WHERE source LIKE 'received%'");
            Sql("INSERT INTO webhook_cursors (source, position) VALUES ('changes:PAN', 2)");
            using var upgraded = await SecretariatAsync();
            await central.WhenAsync(e => e.Count >= 2, "PAN's changes 3-5, received before the upgrade");
            await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 999)));
            await central.WhenAsync(e => e.Count >= 3, "PAN's change 6, received after the upgrade");
            await UntilAsync(() => Sql("SELECT COUNT(*) FROM webhook_cursors WHERE source LIKE 'changes:%'") == 0, "the earlier version's cursor was kept");
            await Task.Delay(500);
            Assert.Equal([(1L, 2L), (3L, 5L), (6L, 6L)], central.Accepted.Select(e => (e.FromSequence, e.ToSequence)));
            Assert.All(central.Accepted, e => Assert.Equal((EventType.DataReceived, "PAN"), (e.Type, e.Country)));
        }
        finally
        {
            if (database is not null)
            {
                await database.DropAsync();
            }
            TempFolder.Delete(folder);
        }
    }

    /// <summary>The Secretariat with webhooks on, and a subscription of <paramref name="receiver"/> to DATA_RECEIVED made by its approver.</summary>
    private static async Task<TestSecretariat> SecretariatAnnouncingToAsync(WebhookReceiver receiver)
    {
        var secretariat = await TestSecretariat.StartAsync(WebhookArgs);
        try
        {
            await Notifications(secretariat.Address, secretariat.Identity, await SharedIdentity.ApproverAsync(""), MirpsAuth.Secretariat)
                .CreateSubscriptionAsync(Subscribe(receiver.Url, EventType.DataReceived));
            return secretariat;
        }
        catch
        {
            await secretariat.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Issue 15: with its cursors lost (the outbox kept), the Secretariat resumed from the oldest subscription's creation and
    /// announced BLZ's changes 1-2 again, in one range under a new id, after announcing 1 and 2 apart: a receiver that ignores
    /// the ids it has seen could not tell. Now it resumes after what the outbox shows was announced: 1, 2, then 3, once each.
    /// </summary>
    [Fact]
    public async Task With_its_cursors_lost_the_Secretariat_announces_no_change_again()
    {
        await using var central = await WebhookReceiver.StartAsync();
        await using var secretariat = await SecretariatAnnouncingToAsync(central);
        await secretariat.ReplicateAsync(DateTimeOffset.UtcNow, [Refugees("BLZ", value: 240)]);
        await central.WhenAsync(e => e.Count >= 1, "BLZ's change 1");
        await secretariat.ReplicateAsync(DateTimeOffset.UtcNow, [Refugees("BLZ", period: "2022", value: 200)]);
        await central.WhenAsync(e => e.Count >= 2, "BLZ's change 2");
        for (var deadline = DateTime.UtcNow.AddSeconds(30); secretariat.CountRows("webhook_deliveries WHERE delivered = TRUE") < 2; await Task.Delay(100))
        {
            Assert.True(DateTime.UtcNow < deadline, "the deliveries of 1 and 2 were not recorded");
        }

        secretariat.Execute("DELETE FROM webhook_cursors");
        for (var deadline = DateTime.UtcNow.AddSeconds(30); secretariat.CountRows("webhook_cursors") == 0; await Task.Delay(100))
        {
            Assert.True(DateTime.UtcNow < deadline, "the deriver did not start its cursors again");
        }
        await Task.Delay(500); // rounds after the resume, which found 1-2 again before
        await secretariat.ReplicateAsync(DateTimeOffset.UtcNow, [Refugees("BLZ", period: "2021", value: 190)]);
        await central.WhenAsync(e => e.Any(x => x.ToSequence == 3), "BLZ's change 3, after the cursors were lost");
        await Task.Delay(500);
        Assert.Equal([(1L, 1L), (2L, 2L), (3L, 3L)], central.Accepted.Select(e => (e.FromSequence, e.ToSequence)));
    }

    /// <summary>
    /// Changes are read by the time the node received them. A write while the node's clock is behind its latest stamp (here
    /// the test's clock, pinned to an hour ago for both writes) gets that same stamp again, after the deriver read it: the
    /// second write is still heard of.
    /// </summary>
    [Fact]
    public async Task Changes_stamped_with_the_time_already_read_are_heard_of()
    {
        await using var central = await WebhookReceiver.StartAsync();
        await using var secretariat = await SecretariatAnnouncingToAsync(central);
        var anHourAgo = DateTimeOffset.UtcNow.AddHours(-1);
        await secretariat.ReplicateAsync(anHourAgo, [Refugees("BLZ", value: 240)]);
        await central.WhenAsync(e => e.Count >= 1, "BLZ's first change");
        await Task.Delay(500); // rounds that read up to its time
        await secretariat.ReplicateAsync(anHourAgo, [Refugees("BLZ", period: "2022", value: 200)]);
        Assert.Equal(1L, secretariat.CountRows("(SELECT DISTINCT received_time FROM observations) AS times"));
        var all = await central.WhenAsync(e => e.Count >= 2, "BLZ's second change, stamped with the time of the first");
        Assert.Equal(("BLZ", 2L), (all[1].Country, all[1].ToSequence));
    }
}
