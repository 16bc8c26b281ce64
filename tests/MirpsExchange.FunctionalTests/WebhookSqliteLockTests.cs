using Microsoft.Data.Sqlite;
using Mirps.Notification.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// SQLite only (this class is not compiled into the PostgreSQL project): the check before a delivery round sends, that the node
/// still holds its store (StoreWrites.HeldAsync, for PostgreSQL's lock and fence), began a write transaction, which on SQLite is
/// BEGIN IMMEDIATE: it waited behind any writer (a large submit, a backup) for up to the busy timeout of 30 s, so every
/// receiver waited too (hostile review of 2026-12-08, finding 3). A SQLite store's file lock cannot be lost: nothing to check.
/// </summary>
public class WebhookSqliteLockTests
{
    [Fact]
    public async Task A_delivery_round_does_not_wait_for_another_writer_of_the_SQLite_store()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        await using var pan = await TestNode.StartAsync("PAN", null, [ShareWithAll, .. WebhookTests.WebhookArgs]);
        var hooks = WebhookTests.Notifications(pan, await SharedIdentity.ApproverAsync("PAN"));
        await hooks.CreateSubscriptionAsync(WebhookTests.Subscribe(receiver.Url, EventType.Approved));
        receiver.DefaultStatus = 500;
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", value: 230)));
        await WebhookTests.Approvals(pan, await SharedIdentity.ApproverAsync("PAN")).ApproveDataAsync(WebhookTests.Approve());
        for (var until = DateTime.UtcNow.AddSeconds(60); receiver.Requests.IsEmpty && DateTime.UtcNow < until; await Task.Delay(50))
        {
        }
        Assert.False(receiver.Requests.IsEmpty, "the first attempt never came");
        // ... and its failure recorded (a write), so the retry is due by its backoff alone.
        for (var until = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < until; await Task.Delay(50))
        {
            if ((await hooks.ListSubscriptionsAsync(new ListSubscriptionsRequest())).Subscriptions.Single().ConsecutiveFailures >= 1)
            {
                break;
            }
        }

        // Another writer holds the store's write lock (as a long submit or a backup would); the receiver now answers 204.
        await using var writer = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = pan.DatabasePath, Pooling = false }.ToString());
        await writer.OpenAsync();
        await using (var begin = writer.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE";
            await begin.ExecuteNonQueryAsync();
        }
        receiver.DefaultStatus = 204;
        var tried = receiver.Requests.Count;
        // The retry comes after its backoff (well under 10 s after one failure), not after the writer lets go.
        for (var until = DateTime.UtcNow.AddSeconds(20); receiver.Accepted.Count == 0 && DateTime.UtcNow < until; await Task.Delay(50))
        {
        }
        var accepted = receiver.Accepted.Count;
        await using (var rollback = writer.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK";
            await rollback.ExecuteNonQueryAsync();
        }
        Assert.True(accepted == 1, $"no retry reached the receiver while another connection held the store's write lock ({receiver.Requests.Count - tried} requests)");
    }
}
