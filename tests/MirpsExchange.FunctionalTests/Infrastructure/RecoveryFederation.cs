using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Mirps.Sync.V1;
using MirpsExchange.Node.Sync;
using MirpsExchange.ServiceDefaults;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>PAN's node, its log and the Secretariat replicating it: what the recovery and backup tests start from (either store).</summary>
public static class RecoveryFederation
{
    /// <summary>PAN's node with its log: 1 REFUGEES F 120, 2 REFUGEES _T 230; 3 ASYLUM_APPLICATIONS 100; 4 REFUGEES _T 240 (revision 2).</summary>
    internal static async Task<TestNode> PanamaAsync(params string[] args)
    {
        var pan = await TestNode.StartAsync("PAN", null, [ShareWithAll, .. args]);
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230), Refugees("PAN", sex: "F", value: 120)));
        var applications = Refugees("PAN", value: 100);
        applications.IndicatorCode = "ASYLUM_APPLICATIONS";
        await pan.Observations.SubmitObservationsAsync(Submit(applications));
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 240)));
        return pan;
    }

    /// <summary>The Secretariat pulling PAN's log from PAN's node at <paramref name="address"/>.</summary>
    internal static async Task<TestSecretariat> SecretariatAsync(string folder, string address, params string[] args)
    {
        var file = Path.Combine(folder, $"secretariat-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
        return await TestSecretariat.StartAsync([$"--Node:Credential={file}", $"--Node:Peers:0:Address={address}", "--Node:Peers:0:Country=PAN", "--Node:Peers:0:Origins:0=PAN", .. args]);
    }

    /// <summary>PAN's node's own arguments to pull from (and recover from) <paramref name="peers"/>: its credential, and each peer.</summary>
    internal static async Task<string[]> PeersArgsAsync(string folder, params (string Address, string Country)[] peers)
    {
        var file = Path.Combine(folder, $"pan-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("PAN")));
        return
        [
            $"--Node:Credential={file}",
            .. peers.SelectMany((peer, i) => new[] { $"--Node:Peers:{i}:Address={peer.Address}", $"--Node:Peers:{i}:Country={peer.Country}", $"--Node:Peers:{i}:Origins:0=BLZ" }),
        ];
    }

    /// <summary>The columns of PAN's log that every copy holds alike (a replica's received and superseded times are its own).</summary>
    internal const string LogColumns = "origin_sequence, indicator_code, country, period, sex, age, country_of_origin, revision, value, status, note, deleted, " +
        "recorded_time, readers, release_time, small_count_threshold, salt, change_hash";

    private static string PanLogQuery(bool asOwn) =>
        $"SELECT {LogColumns}{(asOwn ? ", received_time, superseded_time" : "")} FROM observations WHERE origin = 'PAN' ORDER BY origin_sequence";

    /// <summary>PAN's log in a SQLite store file, one row a change; <paramref name="asOwn"/> adds the times by which the origin's own node answers "as of".</summary>
    internal static List<string> PanLog(string database, bool asOwn = false) => TestStores.Rows(null, database, PanLogQuery(asOwn));

    /// <summary>PAN's log in a node's store (either provider; <paramref name="store"/>: the PostgreSQL database the test started it on), one row a change.</summary>
    internal static List<string> PanLog(TestNode node, string? store = null) =>
        store is null ? node.Rows(PanLogQuery(asOwn: false)) : TestStores.Rows(store, PanLogQuery(asOwn: false));

    /// <summary>PAN's log in a node's store (either provider), one row a change; <paramref name="asOwn"/> adds the times by which the origin's own node answers "as of".</summary>
    internal static List<string> PanLog(TestNode node, bool asOwn) => node.Rows(PanLogQuery(asOwn));

    /// <summary>PAN's log in the Secretariat's store (either provider), one row a change.</summary>
    internal static List<string> PanLog(TestSecretariat secretariat) => secretariat.Rows(PanLogQuery(asOwn: false));

    /// <summary>
    /// PAN's recovered (or restored) <paramref name="node"/> continues its log: its next submit (REFUGEES _T in
    /// <paramref name="period"/>, <paramref name="value"/>) is change <paramref name="sequence"/>, which the Secretariat
    /// verifies on PAN's chain and applies (no gap, no reuse: no fork), and both then hold the same log of PAN.
    /// <paramref name="store"/>: the PostgreSQL database the test started the node on, if it chose one.
    /// </summary>
    internal static async Task ContinuesAsync(TestNode node, TestSecretariat secretariat, long sequence, string period = "2024", double value = 300, string? store = null)
    {
        var next = await node.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: period, value: value)));
        Assert.Equal(sequence, next.LastOriginSequence);
        await SecretariatHoldsAsync(secretariat, sequence);
        Assert.Equal(PanLog(node, store), PanLog(secretariat));
    }

    internal static int FreePort() => LoopbackPorts.Free();

    internal static Task RecoveredAsync(TestNode node) => node.Services.GetRequiredService<OriginRecovery>().Completion.WaitAsync(TimeSpan.FromSeconds(60));

    /// <summary>
    /// PAN's <paramref name="node"/> (restored, or recovering) after its recovery check, its Secretariat out of reach: it logged
    /// that no quorum proved PAN's head and refuses a submit with FAILED_PRECONDITION RECOVERY_QUORUM_MISSING. The refusal's text.
    /// </summary>
    internal static async Task<string> RefusedForWantOfQuorumAsync(TestNode node)
    {
        node.Errors.Expect("OriginRecoveryQuorumMissing");
        node.Errors.Expect("PeerPullFailed");
        await RecoveredAsync(node);
        await RpcAssert.ReasonAsync(() => node.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2025", value: 310))).ResponseAsync,
            Grpc.Core.StatusCode.FailedPrecondition, OriginRecovery.QuorumMissing);
        var refusal = node.Services.GetRequiredService<RecoveryState>().Refusal!;
        Assert.StartsWith(OriginRecovery.QuorumMissing, refusal, StringComparison.Ordinal);
        return refusal;
    }

    /// <summary>
    /// PAN's restored <paramref name="node"/> after its recovery check and two more, its quorum proving less of its log than
    /// the node signed: it logged so and refuses a submit with FAILED_PRECONDITION RECOVERY_BELOW_HIGH_WATER. The refusal's text.
    /// </summary>
    internal static async Task<string> RefusedBelowHighWaterAsync(TestNode node)
    {
        node.Errors.Expect("OriginRecoveryBelowHighWater");
        node.Errors.Expect("PeerPullFailed");
        await RecoveredAsync(node);
        await Task.Delay(TimeSpan.FromSeconds(2)); // two more checks (Node:RecoveryRetryInterval=00:00:01)
        await RpcAssert.ReasonAsync(() => node.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2025", value: 310))).ResponseAsync,
            Grpc.Core.StatusCode.FailedPrecondition, OriginRecovery.BelowHighWater);
        var refusal = node.Services.GetRequiredService<RecoveryState>().Refusal!;
        Assert.Contains("signed PAN's log up to change 7", refusal, StringComparison.Ordinal);
        return refusal;
    }

    /// <summary>Waits until the Secretariat holds PAN's log up to <paramref name="sequence"/> (or 45 s).</summary>
    internal static async Task SecretariatHoldsAsync(TestSecretariat secretariat, long sequence)
    {
        var client = new SyncService.SyncServiceClient(secretariat.Channel);
        var deadline = DateTime.UtcNow.AddSeconds(45);
        while (true)
        {
            var held = (await client.GetSyncStatusAsync(new GetSyncStatusRequest())).Origins.SingleOrDefault(o => o.Origin == "PAN")?.LatestSequence ?? 0;
            if (held >= sequence || DateTime.UtcNow > deadline)
            {
                Assert.Equal(sequence, held);
                return;
            }
            await Task.Delay(100);
        }
    }
}
