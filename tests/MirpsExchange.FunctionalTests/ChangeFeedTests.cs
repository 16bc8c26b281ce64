using Grpc.Core;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>The change feed (first part of the sync issue): resumable by sequence, with a follow mode.</summary>
public class ChangeFeedTests
{
    private static async Task<List<StreamChangesResponse>> ReadAsync(TestNode node, StreamChangesRequest request)
    {
        using var call = new SyncService.SyncServiceClient(node.Channel).StreamChanges(request, deadline: DateTime.UtcNow.AddSeconds(30));
        var messages = new List<StreamChangesResponse>();
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            messages.Add(message);
        }
        return messages;
    }

    [Fact]
    public async Task Inserts_revisions_and_deletions_come_in_sequence_order_and_resume_exactly_after_any_point()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        // Women and children under 5 are parts of the total; neither breakdown is complete, so the total may be revised alone.
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 230), Refugees(sex: "F", value: 120), Refugees(age: "Y0T4", value: 110)));
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));
        await node.Observations.DeleteObservationsAsync(new DeleteObservationsRequest { Keys = { KeyOf(Refugees(age: "Y0T4")) } });

        var all = await ReadAsync(node, new StreamChangesRequest { Origin = "BLZ", BatchSize = 2 });

        var changes = all.SelectMany(m => m.Changes).ToList();
        Assert.Equal([1L, 2L, 3L, 4L, 5L], changes.Select(c => c.OriginSequence));
        Assert.Equal([2, 2, 1], all.Select(m => m.Changes.Count));
        Assert.Equal([2L, 4L, 5L], all.Select(m => m.LastSequence));
        Assert.Equal((2L, 240d), (changes[3].Revision, changes[3].Observation.Value));
        Assert.True(changes[4].Deleted);
        for (var after = 0; after <= 5; after++)
        {
            var resumed = (await ReadAsync(node, new StreamChangesRequest { Origin = "BLZ", AfterSequence = after })).SelectMany(m => m.Changes);
            Assert.Equal(changes.Skip(after), resumed);
        }
    }

    [Fact]
    public async Task A_follower_receives_changes_committed_after_it_caught_up()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 1)));
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var call = new SyncService.SyncServiceClient(node.Channel).StreamChanges(new StreamChangesRequest { Origin = "BLZ", Follow = true }, cancellationToken: cancel.Token);

        Assert.True(await call.ResponseStream.MoveNext(cancel.Token));
        Assert.Equal(1, call.ResponseStream.Current.LastSequence);
        var next = call.ResponseStream.MoveNext(cancel.Token);
        await Task.Delay(200);
        Assert.False(next.IsCompleted); // caught up: the stream waits
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 2)));
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 2))); // unchanged: no change to push

        Assert.True(await next);
        var change = Assert.Single(call.ResponseStream.Current.Changes);
        Assert.Equal((2L, 2L, 2d), (change.OriginSequence, change.Revision, change.Observation.Value));
        cancel.Cancel();
    }

    [Fact]
    public async Task Status_reports_the_latest_sequence_and_time_per_origin_and_the_catalogue()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 1), Refugees(sex: "F", value: 1)));
        var last = (await node.QueryAsync()).Max(s => s.RecordedTime);

        var status = await new SyncService.SyncServiceClient(node.Channel).GetSyncStatusAsync(new GetSyncStatusRequest());

        var origin = Assert.Single(status.Origins);
        Assert.Equal(("BLZ", 2L, last), (origin.Origin, origin.LatestSequence, origin.LastChangeTime));
        Assert.Equal(MirpsExchange.Catalogue.StandardCatalogue.LoadStandard().Digest, status.CatalogDigest);
        Assert.Equal("2.1.0", status.CatalogVersion);
    }

    [Fact]
    public async Task A_malformed_feed_request_is_refused_and_a_State_not_shared_with_receives_placeholders_only()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        var costaRica = await node.TokensFor(await SharedIdentity.CredentialAsync("CRI")).GetTokenAsync();

        await RpcAssert.InvalidArgumentAsync(() => ReadAsync(node, new StreamChangesRequest { Origin = "USA" }), "origin");
        await RpcAssert.InvalidArgumentAsync(() => ReadAsync(node, new StreamChangesRequest { Origin = "BLZ", AfterSequence = -1 }), "after_sequence");
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));
        using var call = new SyncService.SyncServiceClient(node.ChannelWith(CallCredentials.FromInterceptor((_, m) => { m.Add("Authorization", $"Bearer {costaRica}"); return Task.CompletedTask; })))
            .StreamChanges(new StreamChangesRequest { Origin = "BLZ" });
        Assert.True(await call.ResponseStream.MoveNext());
        var change = Assert.Single(call.ResponseStream.Current.Changes);
        // Nothing of the observation leaves the node: only the position in the log, its time and the policy.
        Assert.Equal((Mirps.Observation.V1.Withholding.NotShared, null, 1L), (change.Withholding, change.Observation, change.OriginSequence));
        Assert.Equal(Mirps.Observation.V1.ReaderScope.SecretariatOnly, change.Policy.Readers);
    }
}
