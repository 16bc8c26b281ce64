using System.Text.Json;
using Grpc.Core;
using Microsoft.Data.Sqlite;
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
            var logKey = $"--Node:LogSigningKeyFile={await TestLogKeys.FileAsync(identity, "BLZ", folder)}";
            using var origin = ServiceProcess.Node("BLZ", Path.Combine(folder, "BLZ"), identity.Issuer, Samples.ShareWithAll, logKey);
            await origin.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
            using var belize = new TokenClient(identity.Http, identity.TokenEndpoint, await SharedIdentity.CredentialAsync("BLZ"), $"{MirpsAuth.ReadScope} {MirpsAuth.SubmitScope}");
            using var originChannel = AuthenticatedChannel.Create(new Uri(origin.Address), belize);
            var submit = new ObservationService.ObservationServiceClient(originChannel);
            // 20 years of months x 3 sexes x 251 origins of WORK_PERMITS: 180,720 changes, 23 of the worker's
            // 8,192-change batches. The replica is killed once it has applied the first one (one or two by the
            // time the kill lands on a loaded 2-core machine), so some twenty batches stand between the kill and the end.
            var origins = MirpsExchange.Catalogue.StandardCatalogue.LoadStandard().Codelist("CL_COUNTRY_OF_ORIGIN").Order(StringComparer.Ordinal).ToArray();
            const int Years = 20;
            for (var year = 0; year < Years; year++)
            {
                var request = new SubmitObservationsRequest();
                for (var month = 1; month <= 12; month++)
                foreach (var sex in new[] { "F", "M", "_T" })
                foreach (var origin_ in origins)
                {
                    request.Observations.Add(new Observation
                    {
                        IndicatorCode = "WORK_PERMITS", Country = "BLZ", Period = $"{2000 + year}-{month:D2}",
                        Sex = sex, CountryOfOrigin = origin_, Status = ObservationStatus.Normal,
                        // month permits per sex and origin; each total the sum of its breakdown (the validation rules)
                        Value = month * (sex == "_T" ? 2 : 1) * (origin_ == "_T" ? origins.Length - 1 : 1),
                    });
                }
                await submit.SubmitObservationsAsync(request);
            }
            var total = Years * 12L * 3 * origins.Length;

            string[] replicaArgs = [$"--Node:Credential={secretariatFile}", $"--Node:Peers:0:Address={origin.Address}", "--Node:Peers:0:Origins:0=BLZ", "--Node:Peers:0:Country=BLZ"];
            using var panama = new TokenClient(identity.Http, identity.TokenEndpoint, await SharedIdentity.CredentialAsync("PAN"), MirpsAuth.ReadScope);
            var replicaFolder = Path.Combine(folder, "PAN");
            var store = Path.Combine(replicaFolder, "node-pan.db");
            using (var first = ServiceProcess.Node("PAN", replicaFolder, identity.Issuer, replicaArgs))
            {
                await first.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
                using var channel = AuthenticatedChannel.Create(new Uri(first.Address), panama);
                // Kill it as soon as it has applied something.
                var deadline = DateTime.UtcNow.AddSeconds(60);
                while (await AppliedAsync(channel) == 0 && DateTime.UtcNow < deadline)
                {
                }
            }

            // What the dead replica's store holds, not what a status poll last said: the kill landed mid-sync,
            // and what was applied is a prefix of the log (each batch is one transaction).
            var killed = StoreCounts(store);
            Assert.True(killed.Rows > 0, "the replica applied nothing before it was killed");
            Assert.True(killed.Rows < total, $"the replica held all {total} changes when it was killed: the kill did not land mid-sync; make the data set larger");
            Assert.Equal((killed.Rows, killed.Rows, killed.Rows), (killed.Sequences, killed.Keys, killed.Last));

            var second = ServiceProcess.Node("PAN", replicaFolder, identity.Issuer, replicaArgs);
            try
            {
                await second.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
                using var replicaChannel = AuthenticatedChannel.Create(new Uri(second.Address), panama);
                var deadline = DateTime.UtcNow.AddSeconds(120);
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
                second.Dispose();
            }
            // The store itself, once the process is gone: exactly the total, each change and each key once.
            Assert.Equal((total, total, total, total), StoreCounts(store));
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// BLZ's rows in a dead replica's store file, opened read-only: how many, how many distinct sequences
    /// and keys, and the last sequence (rows = sequences = keys = last: a prefix of the log, no duplicate).
    /// </summary>
    private static (long Rows, long Sequences, long Keys, long Last) StoreCounts(string file)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = file, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*), COUNT(DISTINCT origin_sequence), " +
            "(SELECT COUNT(*) FROM (SELECT DISTINCT indicator_code, country, period, sex, age, country_of_origin FROM observations WHERE origin = 'BLZ') AS cells), " +
            "COALESCE(MAX(origin_sequence), 0) FROM observations WHERE origin = 'BLZ'";
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
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
            changes.AddRange(message.Changes.Select(NodeQueries.AsSigned));
        }
        return changes;
    }
}
