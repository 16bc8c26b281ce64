using System.Text.Json;
using Grpc.Core;
using Mirps.Auth;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.Cli.Federation;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.FunctionalTests;

/// <summary>Sync between real node processes: a replica killed mid-sync and restarted converges to an exact copy.</summary>
public class SyncProcessTests
{
    [Fact]
    public async Task A_replica_process_killed_mid_sync_and_restarted_converges_with_no_gap_and_no_duplicate()
    {
        var identity = await SharedIdentity.GetAsync();
        var folder = TempFolder.Create();
        try
        {
            var secretariatFile = Path.Combine(folder, "secretariat.json");
            OwnerOnlyFile.WriteAllText(secretariatFile, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
            using var origin = ServiceProcess.Node("BLZ", Path.Combine(folder, "BLZ"), identity.Issuer, Samples.ShareWithAll);
            await origin.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
            using var belize = new TokenClient(identity.Http, identity.TokenEndpoint, await SharedIdentity.CredentialAsync("BLZ"), $"{MirpsAuth.ReadScope} {MirpsAuth.SubmitScope}");
            using var originChannel = AuthenticatedChannel.Create(new Uri(origin.Address), belize);
            var submit = new ObservationService.ObservationServiceClient(originChannel);
            // 30 months x 3 sexes x 251 origins of WORK_PERMITS: 22,590 changes, several of the worker's 10,000-change batches.
            var origins = MirpsExchange.Catalogue.StandardCatalogue.LoadStandard().Codelist("CL_COUNTRY_OF_ORIGIN").Order(StringComparer.Ordinal).ToArray();
            for (var month = 0; month < 30; month++)
            {
                var request = new SubmitObservationsRequest();
                foreach (var sex in new[] { "F", "M", "_T" })
                foreach (var origin_ in origins)
                {
                    request.Observations.Add(new Observation
                    {
                        IndicatorCode = "WORK_PERMITS", Country = "BLZ", Period = $"{2000 + month / 12}-{month % 12 + 1:D2}",
                        Sex = sex, CountryOfOrigin = origin_, Value = month, Status = ObservationStatus.Normal,
                    });
                }
                await submit.SubmitObservationsAsync(request);
            }
            var total = 30L * 3 * origins.Length;

            string[] replicaArgs = [$"--Node:Credential={secretariatFile}", $"--Node:Peers:0:Address={origin.Address}", "--Node:Peers:0:Origins:0=BLZ", "--Node:Peers:0:Country=BLZ"];
            using var panama = new TokenClient(identity.Http, identity.TokenEndpoint, await SharedIdentity.CredentialAsync("PAN"), MirpsAuth.ReadScope);
            var replicaFolder = Path.Combine(folder, "PAN");
            var first = ServiceProcess.Node("PAN", replicaFolder, identity.Issuer, replicaArgs);
            await first.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
            long before;
            using (var channel = AuthenticatedChannel.Create(new Uri(first.Address), panama))
            {
                // Kill it as soon as it has applied something but not everything.
                do
                {
                    before = await AppliedAsync(channel);
                }
                while (before == 0);
            }
            first.Dispose();
            Assert.True(before < total, $"the replica finished ({before}) before it could be killed; make the data set larger");

            using var second = ServiceProcess.Node("PAN", replicaFolder, identity.Issuer, replicaArgs);
            await second.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
            using var replicaChannel = AuthenticatedChannel.Create(new Uri(second.Address), panama);
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (await AppliedAsync(replicaChannel) < total && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }

            Assert.Equal(total, await AppliedAsync(replicaChannel));
            var fromOrigin = await FeedAsync(originChannel);
            var fromReplica = await FeedAsync(replicaChannel);
            Assert.Equal(total, fromReplica.Count);
            Assert.Equal(fromOrigin, fromReplica); // same sequences, revisions, values and times: no gap, no duplicate
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    private static async Task<long> AppliedAsync(Grpc.Net.Client.GrpcChannel channel)
    {
        var status = await new SyncService.SyncServiceClient(channel).GetSyncStatusAsync(new GetSyncStatusRequest());
        return status.Origins.FirstOrDefault(o => o.Origin == "BLZ")?.LatestSequence ?? 0;
    }

    private static async Task<List<StoredObservation>> FeedAsync(Grpc.Net.Client.GrpcChannel channel)
    {
        using var call = new SyncService.SyncServiceClient(channel).StreamChanges(new StreamChangesRequest { Origin = "BLZ" }, deadline: DateTime.UtcNow.AddSeconds(60));
        var changes = new List<StoredObservation>();
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            changes.AddRange(message.Changes);
        }
        return changes;
    }
}
