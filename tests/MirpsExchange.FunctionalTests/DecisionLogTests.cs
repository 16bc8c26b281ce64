using System.Data.Common;
using System.Text.Json;
using Mirps.Approval.V1;
using Mirps.Auth;
using Mirps.Log;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.ServiceDefaults;
using static MirpsExchange.FunctionalTests.ApprovalTests;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The Secretariat's decisions (accepted, rejected) are its own signed, hash-chained lifecycle log, origin "secretariat"
/// (protos/README.md, "Approval"): States' nodes pull it, verify it before they store it, and answer for their own cells
/// from their own store; the Secretariat takes it back from them after losing its disk. A State or relay cannot forge an
/// acceptance, alter a rejection or replay an old acceptance after a rejection. Lifecycle commits are durable.
/// </summary>
public sealed class DecisionLogTests : IDisposable
{
    private const string Populations = "POPULATIONS";

    /// <summary>The test's own folder for the nodes' credential files.</summary>
    private readonly string _folder = TempFolder.Create();

    public void Dispose() => TempFolder.Delete(_folder);

    /// <summary>Configuration for a node with its own credential that pulls the Secretariat's decision log from <paramref name="address"/> (a node of <paramref name="country"/>).</summary>
    private async Task<string[]> PullingDecisionsAsync(string country, string address, string peerCountry, params string[] origins)
    {
        var file = Path.Combine(_folder, $"{country}-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync(country == "secretariat" ? "" : country)));
        return
        [
            $"--Node:Credential={file}",
            "--Node:LifecyclePollInterval=00:00:00.200",
            $"--Node:Peers:0:Address={address}", $"--Node:Peers:0:Country={peerCountry}",
            .. origins.Select((origin, i) => $"--Node:Peers:0:Origins:{i}={origin}"),
        ];
    }

    /// <summary>
    /// PAN approves; the Secretariat accepts, then rejects with a reason. PAN's node pulls the Secretariat's decision log and
    /// answers "accepted", then "rejected (reason)", for its own cell from its own store, each decision signed by the Secretariat
    /// and anchored to PAN's approval entry. The Secretariat then loses its disk: started again on an empty store with its key,
    /// it takes its decisions back from PAN's node, verified, and answers as before; its next decision continues the log.
    /// </summary>
    [Fact]
    public async Task A_States_node_answers_its_cells_decisions_from_its_own_store_and_the_Secretariat_recovers_them_from_it()
    {
        await using var gate = new TcpGate();
        await using var pan = await TestNode.StartAsync("PAN", null, [ShareWithAll, .. await PullingDecisionsAsync("PAN", gate.Address, MirpsAuth.Secretariat, MirpsAuth.Secretariat)]);
        var secretariat = await TestSecretariat.StartAsync(await PullingDecisionsAsync("secretariat", pan.Address, "PAN", "PAN"));
        try
        {
            gate.Target = secretariat.Address;
            gate.Open();
            await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
            var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
            var approval = Assert.Single((await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } })).Entries);
            var acceptor = Approvals(secretariat, await SharedIdentity.ApproverAsync(""));
            await WhenAsync(Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope), ApprovalState.Approved);

            var accepted = Assert.Single((await acceptor.AcceptDataAsync(new AcceptDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" } })).Entries);
            Assert.Equal((MirpsAuth.Secretariat, 1L, "PAN", LifecycleAction.Accept, approval.EntrySequence, 64),
                (accepted.Origin, accepted.EntrySequence, accepted.Country, accepted.Action, accepted.LogSequence, accepted.Signature.Length));
            Assert.Equal(LifecycleEntrySignature.Hash(approval), accepted.LogHash.ToByteArray()); // anchored to exactly that approval
            var own = await WhenAsync(state, ApprovalState.Accepted);
            Assert.False(string.IsNullOrEmpty(own.AcceptedBy));

            await acceptor.RejectDataAsync(new RejectDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" }, Reason = "the breakdown by age is missing" });
            Assert.Equal("the breakdown by age is missing", (await WhenAsync(state, ApprovalState.Rejected)).Reason);
            Assert.Equal(2L, pan.CountRows(Decisions)); // PAN's node holds the decisions themselves, signed

            // The Secretariat loses its disk: a new store, the same key (kept apart from the store, as an operator keeps it).
            await secretariat.DisposeAsync();
            secretariat = await TestSecretariat.StartAsync([.. await PullingDecisionsAsync("secretariat", pan.Address, "PAN", "PAN", MirpsAuth.Secretariat)]);
            gate.Target = secretariat.Address;
            var recovered = await WhenAsync(Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope), ApprovalState.Rejected);
            Assert.Equal("the breakdown by age is missing", recovered.Reason);
            Assert.Equal(2L, secretariat.CountRows(Decisions));
            var next = Assert.Single((await Approvals(secretariat, await SharedIdentity.ApproverAsync(""))
                .AcceptDataAsync(new AcceptDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" } })).Entries);
            Assert.Equal(3L, next.EntrySequence); // the log goes on where it was, not from 1 again
            await WhenAsync(state, ApprovalState.Accepted);
        }
        finally
        {
            await secretariat.DisposeAsync();
        }
    }

    /// <summary>
    /// Hostile review (finding 3): a rejection's reason is the business of the State concerned and the Secretariat only. The
    /// Secretariat rejects PAN's cell with a reason; MEX, with its own valid credentials, pulls the decision log and asks for
    /// PAN's status at the Secretariat's node and at PAN's node, and its own node takes the log from PAN's node (a relay): it
    /// reads the signed entry, verifiable, without the text, everywhere. PAN reads its reason from its own node after sync,
    /// and the Secretariat from its own.
    /// </summary>
    [Fact]
    public async Task Another_States_credentials_read_no_rejection_reason_and_the_State_concerned_reads_its_own_from_its_own_node()
    {
        const string why = "the breakdown by age is missing";
        await using var gate = new TcpGate();
        await using var pan = await TestNode.StartAsync("PAN", null, [ShareWithAll, .. await PullingDecisionsAsync("PAN", gate.Address, MirpsAuth.Secretariat, MirpsAuth.Secretariat)]);
        await using var mex = await TestNode.StartAsync("MEX", null, [ShareWithAll, .. await PullingDecisionsAsync("MEX", pan.Address, "PAN", MirpsAuth.Secretariat)]);
        await using var secretariat = await TestSecretariat.StartAsync(await PullingDecisionsAsync("secretariat", pan.Address, "PAN", "PAN"));
        gate.Target = secretariat.Address;
        gate.Open();
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
        await WhenAsync(Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope), ApprovalState.Approved);
        var rejection = Assert.Single((await Approvals(secretariat, await SharedIdentity.ApproverAsync(""))
            .RejectDataAsync(new RejectDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" }, Reason = why })).Entries);
        Assert.Equal(why, rejection.Reason); // the Secretariat reads its own decision

        // PAN, from its own node, after sync; its node holds the decision with the text.
        Assert.Equal(why, (await WhenAsync(state, ApprovalState.Rejected)).Reason);
        Assert.Equal(why, Assert.Single((await state.ListLifecycleEntriesAsync(new ListLifecycleEntriesRequest { Origin = MirpsAuth.Secretariat })).Entries).Reason);

        // MEX's credentials, at the Secretariat's node and at PAN's: the entry, without the text; the cell's state, without the reason.
        var mexCredential = await SharedIdentity.CredentialAsync("MEX");
        foreach (var asMexico in new[] { Approvals(secretariat, mexCredential, MirpsAuth.ReadScope), Approvals(pan, mexCredential, MirpsAuth.ReadScope) })
        {
            var served = Assert.Single((await asMexico.ListLifecycleEntriesAsync(new ListLifecycleEntriesRequest { Origin = MirpsAuth.Secretariat })).Entries);
            Assert.Equal((LifecycleAction.Reject, "", 0, 32), (served.Action, served.Reason, served.ReasonSalt.Length, served.ReasonHash.Length));
            Assert.Equal("", (await WhenAsync(asMexico, ApprovalState.Rejected)).Reason);
        }

        // MEX's node took the log from PAN's node: it holds the rejection, verified, and not its text.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (mex.CountRows(Decisions) == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.Equal(1L, mex.CountRows(Decisions));
        Assert.Equal(0L, mex.CountRows(Decisions + " AND reason <> ''"));
    }

    /// <summary>
    /// A hostile relay (saying it is CRI's node) serves PAN's node the Secretariat's rejection of PAN's cell: with its text
    /// altered (salt and hash kept), then with the text put back into the signed bytes in place of its hash. Both are refused,
    /// nothing stored. Served without its text (as a relay that may not read it serves it), the rejection is stored, verified,
    /// and reads without a reason; PAN's node, which may read it, asks for the text again and fills it in only when a text
    /// matching the hash the Secretariat signed arrives, not an altered one.
    /// </summary>
    [Fact]
    public async Task A_reason_altered_on_the_way_is_refused_and_one_left_out_is_filled_in_only_with_the_text_signed()
    {
        const string why = "the breakdown by age is missing";
        await using var relay = await MaliciousPeer.StartAsync("CRI");
        await using var pan = await TestNode.StartAsync("PAN", null, [ShareWithAll, .. await PullingDecisionsAsync("PAN", relay.Address, "CRI", MirpsAuth.Secretariat)]);
        await using var secretariat = await TestSecretariat.StartAsync(await PullingDecisionsAsync("secretariat", pan.Address, "PAN", "PAN"));
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
        await WhenAsync(Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope), ApprovalState.Approved);
        var rejection = Assert.Single((await Approvals(secretariat, await SharedIdentity.ApproverAsync(""))
            .RejectDataAsync(new RejectDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" }, Reason = why })).Entries);
        Assert.Equal((why, 32, LifecycleEntrySignature.ReasonSaltSize), (rejection.Reason, rejection.ReasonHash.Length, rejection.ReasonSalt.Length));

        var altered = rejection.Clone();
        altered.Reason = "minor remarks only";
        relay.Decisions = after => after == 0 ? [altered] : [];
        Assert.Contains("not the one secretariat signed", (await MaliciousPeer.PullAsync(pan.Channel, relay.Address, p => p.LastError.Contains("not the one", StringComparison.Ordinal))).LastError);
        var unhashed = rejection.Clone();
        unhashed.ReasonHash = Google.Protobuf.ByteString.Empty;
        unhashed.ReasonSalt = Google.Protobuf.ByteString.Empty;
        relay.Decisions = after => after == 0 ? [unhashed] : [];
        Assert.StartsWith("SIGNATURE_INVALID", (await MaliciousPeer.PullAsync(pan.Channel, relay.Address, p => p.LastError.Contains("does not verify", StringComparison.Ordinal))).LastError);
        Assert.Equal(0L, pan.CountRows(Decisions));

        // Without its text: stored, verified; then an altered text offered for it is not taken.
        var asked = 0;
        relay.Decisions = after =>
        {
            Interlocked.Increment(ref asked);
            return after == 0 ? [Volatile.Read(ref asked) < 3 ? LifecycleEntrySignature.WithoutReason(rejection) : altered] : [];
        };
        Assert.Equal("", (await WhenAsync(state, ApprovalState.Rejected)).Reason);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Volatile.Read(ref asked) < 8 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.Equal("", (await WhenAsync(state, ApprovalState.Rejected)).Reason);
        Assert.Equal(0L, pan.CountRows(Decisions + " AND reason <> ''"));

        // The text signed: filled in.
        relay.Decisions = after => after == 0 ? [rejection] : [];
        deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await WhenAsync(state, ApprovalState.Rejected)).Reason.Length == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.Equal(why, (await WhenAsync(state, ApprovalState.Rejected)).Reason);
        Assert.Equal(1L, pan.CountRows(Decisions));
    }

    /// <summary>
    /// A Secretariat started on an empty store (a lost disk) whose peer holding its decision log does not answer yet: it refuses
    /// to decide, with nothing written, rather than start its log again at 1 under the copies the States hold.
    /// </summary>
    [Fact]
    public async Task A_Secretariat_that_lost_its_decision_log_does_not_decide_before_a_peer_that_may_hold_it_answered()
    {
        await using var silent = new TcpGate(); // PAN's node, unreachable: the gate is never opened
        await using var secretariat = await TestSecretariat.StartAsync(await PullingDecisionsAsync("secretariat", silent.Address, "PAN", MirpsAuth.Secretariat));
        var acceptor = Approvals(secretariat, await SharedIdentity.ApproverAsync(""));
        await RpcAssert.ReasonAsync(() => acceptor
            .AcceptDataAsync(new AcceptDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" } }).ResponseAsync,
            Grpc.Core.StatusCode.FailedPrecondition, "DECISION_LOG_RECOVERING");
        Assert.Equal(0L, secretariat.CountRows("lifecycle_entries"));
    }

    /// <summary>
    /// A hostile relay (saying it is CRI's node) serves PAN's node the Secretariat's decision log: an acceptance PAN forged for
    /// its own cell with its own key, then the true rejection with its reason altered, then the true log followed by the old
    /// acceptance replayed after the rejection. PAN's node stores nothing forged or altered, reports the relay failing with the
    /// reason, and its cell stays rejected after the replay.
    /// </summary>
    [Fact]
    public async Task A_State_or_relay_cannot_forge_an_acceptance_alter_a_rejection_or_replay_an_acceptance_after_it()
    {
        await using var relay = await MaliciousPeer.StartAsync("CRI");
        await using var pan = await TestNode.StartAsync("PAN", null, [ShareWithAll, .. await PullingDecisionsAsync("PAN", relay.Address, "CRI", MirpsAuth.Secretariat)]);
        await using var secretariat = await TestSecretariat.StartAsync(await PullingDecisionsAsync("secretariat", pan.Address, "PAN", "PAN"));
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        var approval = Assert.Single((await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } })).Entries);
        await WhenAsync(Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope), ApprovalState.Approved);
        var acceptor = Approvals(secretariat, await SharedIdentity.ApproverAsync(""));
        var acceptance = Assert.Single((await acceptor.AcceptDataAsync(new AcceptDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" } })).Entries);
        var rejection = Assert.Single((await acceptor.RejectDataAsync(new RejectDataRequest
            { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" }, Reason = "the breakdown by age is missing" })).Entries);

        // PAN's own acceptance of its cell, as the Secretariat's first decision, signed with PAN's registered key.
        using var panKey = await TestLogKeys.KeyAsync(pan.Identity, "PAN");
        var forged = acceptance.Clone();
        forged.Actor = "pan-approver";
        LifecycleEntrySignature.Sign(forged, panKey, LogKeys.KeyId(panKey.ExportSubjectPublicKeyInfo()));
        relay.Decisions = after => after == 0 ? [forged] : [];
        Assert.StartsWith("UNKNOWN_SIGNING_KEY", (await MaliciousPeer.PullAsync(pan.Channel, relay.Address, p => p.LastError.StartsWith("UNKNOWN_SIGNING_KEY", StringComparison.Ordinal))).LastError);
        Assert.Equal(0L, pan.CountRows(Decisions));
        Assert.Equal(ApprovalState.Approved, Assert.Single((await state.GetApprovalStatusAsync(new GetApprovalStatusRequest())).Cells).State);

        // The true acceptance, then the rejection with its reason made milder.
        var altered = rejection.Clone();
        altered.Reason = "minor remarks only";
        relay.Decisions = after => new[] { acceptance, altered }.Where(e => e.EntrySequence > after);
        Assert.StartsWith("SIGNATURE_INVALID", (await MaliciousPeer.PullAsync(pan.Channel, relay.Address, p => p.LastError.StartsWith("SIGNATURE_INVALID", StringComparison.Ordinal))).LastError);
        Assert.Equal(0L, pan.CountRows(Decisions)); // the page is verified whole before any of it is stored

        // The true log, then the old acceptance served again after the rejection.
        relay.Decisions = after => after >= 2 ? [acceptance] : new[] { acceptance, rejection }.Where(e => e.EntrySequence > after);
        Assert.StartsWith("CHAIN_BROKEN", (await MaliciousPeer.PullAsync(pan.Channel, relay.Address, p => p.LastError.StartsWith("CHAIN_BROKEN", StringComparison.Ordinal))).LastError);
        Assert.Equal(2L, pan.CountRows(Decisions));
        Assert.Equal("the breakdown by age is missing", (await WhenAsync(state, ApprovalState.Rejected)).Reason);
        Assert.Equal(approval.EntrySequence, rejection.LogSequence);
    }

    /// <summary>
    /// Hostile review (finding 2): the Secretariat's decision log is one chain for every State, so a decision on a State's
    /// approval that this node holds differently (the State forked its lifecycle log, serving this node another entry than the
    /// Secretariat; or it re-signed its entries after a lost disk) must not stop the chain here. Before, the whole page was
    /// refused (CHAIN_BROKEN) on every round, and this node never again received any decision, its own State's included. Now
    /// the decision is stored as the Secretariat signed it; it decides no cell here (its approval's hash is not the one held),
    /// and the mismatch is logged.
    /// </summary>
    [Fact]
    public async Task A_decision_on_an_approval_held_here_as_another_entry_does_not_stop_the_decision_log()
    {
        await using var relay = await MaliciousPeer.StartAsync("CRI");
        await using var pan = await TestNode.StartAsync("PAN", null, [ShareWithAll, .. await PullingDecisionsAsync("PAN", relay.Address, "CRI", MirpsAuth.Secretariat)]);
        await using var secretariat = await TestSecretariat.StartAsync(await PullingDecisionsAsync("secretariat", pan.Address, "PAN", "PAN"));
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
        await WhenAsync(Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope), ApprovalState.Approved);
        var acceptance = Assert.Single((await Approvals(secretariat, await SharedIdentity.ApproverAsync(""))
            .AcceptDataAsync(new AcceptDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" } })).Entries);

        // This node holds PAN's entry 1 as another entry than the one the Secretariat decided on.
        pan.Execute("UPDATE lifecycle_entries SET entry_hash = signature WHERE origin = 'PAN'");
        relay.Decisions = after => new[] { acceptance }.Where(e => e.EntrySequence > after);
        // (until the node fetches the Secretariat's newly published key, the entry is UNKNOWN_SIGNING_KEY and asked for again)
        var peer = await MaliciousPeer.PullAsync(pan.Channel, relay.Address, p => pan.CountRows(Decisions) == 1 || p.LastError.StartsWith("CHAIN_BROKEN", StringComparison.Ordinal));
        Assert.False(peer.LastError.StartsWith("CHAIN_BROKEN", StringComparison.Ordinal), peer.LastError);
        Assert.Equal(1L, pan.CountRows(Decisions));
        Assert.Equal(ApprovalState.Approved, Assert.Single((await state.GetApprovalStatusAsync(new GetApprovalStatusRequest())).Cells).State);
    }

    /// <summary>
    /// A relay serving the Secretariat PAN's lifecycle log with an acceptance in it, signed with PAN's own key: a State's log
    /// holds approvals and unapprovals only, so the Secretariat refuses it as invalid content and stores nothing.
    /// </summary>
    [Fact]
    public async Task An_acceptance_in_a_States_own_lifecycle_log_is_refused()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll);
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        var state = Approvals(pan, await SharedIdentity.ApproverAsync("PAN"));
        var approval = Assert.Single((await state.ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } })).Entries);
        var asSecretariat = pan.ChannelWith(pan.TokensFor(await SharedIdentity.CredentialAsync("")).ToCallCredentials());
        var feed = new SyncService.SyncServiceClient(asSecretariat).StreamChanges(new StreamChangesRequest { Origin = "PAN" });
        var (changes, heads) = (new List<StoredObservation>(), new List<LogHead>());
        while (changes.Count == 0 && await feed.ResponseStream.MoveNext(CancellationToken.None))
        {
            changes.AddRange(feed.ResponseStream.Current.Changes);
            heads.AddRange(feed.ResponseStream.Current.Heads);
        }
        feed.Dispose();
        using var panKey = await TestLogKeys.KeyAsync(pan.Identity, "PAN");
        var selfAccepted = approval.Clone();
        selfAccepted.PreviousHash = Google.Protobuf.ByteString.CopyFrom(LifecycleEntrySignature.Hash(approval));
        selfAccepted.EntrySequence = 2;
        selfAccepted.Action = LifecycleAction.Accept;
        LifecycleEntrySignature.Sign(selfAccepted, panKey, approval.KeyId);

        await using var relay = await MaliciousPeer.StartAsync("CRI");
        relay.Holds = changes[^1].OriginSequence;
        relay.Script = after => after >= changes[^1].OriginSequence ? [] :
            [new StreamChangesResponse { Changes = { changes.Where(c => c.OriginSequence > after) }, Heads = { heads.Where(h => h.Sequence > after) }, LastSequence = changes[^1].OriginSequence }];
        relay.Lifecycle = after => new[] { approval, selfAccepted }.Where(e => e.EntrySequence > after);
        await using var secretariat = await TestSecretariat.StartAsync(await PullingDecisionsAsync("secretariat", relay.Address, "CRI", "PAN"));
        var peer = await MaliciousPeer.PullAsync(secretariat, relay.Address, p => p.LastError.StartsWith("INVALID_CONTENT", StringComparison.Ordinal));
        Assert.StartsWith("INVALID_CONTENT", peer.LastError);
        Assert.Equal(0L, secretariat.CountRows("lifecycle_entries"));
    }

    /// <summary>
    /// An approval and a decision are acknowledged only once they survive power loss, as a submit is: their commits run with
    /// synchronous=FULL on SQLite (PostgreSQL: synchronous_commit on), so the origin never signs the same entry sequence twice
    /// for different entries. What a replica stores from a pull keeps the node's faster default.
    /// </summary>
    [Fact]
    public async Task Approvals_and_decisions_commit_durably()
    {
        await using var pan = await TestNode.StartAsync("PAN", null, ShareWithAll);
        await using var secretariat = await TestSecretariat.StartAsync(await PullingDecisionsAsync("secretariat", pan.Address, "PAN", "PAN"));
        using var observed = new DurabilityAtInsert("lifecycle_entries"); // quoted on SQLite, not by Npgsql
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        await Approvals(pan, await SharedIdentity.ApproverAsync("PAN")).ApproveDataAsync(new ApproveDataRequest { GroupIds = { Populations }, Periods = { "2023" } });
        await WhenAsync(Approvals(secretariat, await SharedIdentity.CredentialAsync(""), MirpsAuth.ReadScope), ApprovalState.Approved);
        await Approvals(secretariat, await SharedIdentity.ApproverAsync("")).AcceptDataAsync(new AcceptDataRequest { Country = "PAN", GroupIds = { Populations }, Periods = { "2023" } });

        var (atPan, atSecretariat) = (observed.Seen(pan.StoreName), observed.Seen(secretariat.StoreName));
        Assert.Equal(new[] { true }, atPan); // PAN's approval
        Assert.Equal(2, atSecretariat.Count);
        Assert.True(atSecretariat[1]); // the Secretariat's decision
        Assert.Equal(TestStores.Postgres, atSecretariat[0]); // PAN's approval as the Secretariat stored it from its pull
    }

    /// <summary>
    /// Reads, on the connection and in the transaction of every insert whose text holds a marker (a table), whether its commit is durable
    /// (SQLite: PRAGMA synchronous is FULL, 2; PostgreSQL: synchronous_commit is on), by store.
    /// </summary>
    private sealed class DurabilityAtInsert(string marker) : StoreCommandObserver
    {
        private readonly List<(string Store, bool Durable)> _seen = [];

        protected override void Executing(DbCommand command)
        {
            if (!command.CommandText.Contains("INSERT INTO", StringComparison.Ordinal) || !command.CommandText.Contains(marker, StringComparison.Ordinal)
                || command.Connection is not { } connection)
            {
                return;
            }
            using var setting = connection.CreateCommand();
            setting.Transaction = command.Transaction;
            var postgres = connection is Npgsql.NpgsqlConnection;
            setting.CommandText = postgres ? "SHOW synchronous_commit" : "PRAGMA synchronous";
            var value = setting.ExecuteScalar();
            var store = postgres ? connection.Database : Path.GetFullPath(connection.DataSource);
            lock (_seen)
            {
                _seen.Add((store, postgres ? (string)value! == "on" : (long)value! == 2));
            }
        }

        public List<bool> Seen(string store)
        {
            var name = TestStores.Postgres ? store : Path.GetFullPath(store);
            lock (_seen)
            {
                return [.. _seen.Where(s => s.Store == name).Select(s => s.Durable)];
            }
        }
    }
}
