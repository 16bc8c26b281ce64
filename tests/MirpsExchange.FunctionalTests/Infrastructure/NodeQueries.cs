using Grpc.Core;
using Mirps.Observation.V1;

namespace MirpsExchange.FunctionalTests.Infrastructure;

public static class NodeQueries
{
    /// <summary>Every streamed message of a query, in order.</summary>
    public static async Task<List<StreamObservationsResponse>> StreamAsync(this TestNode node, StreamObservationsRequest request)
    {
        using var call = node.Observations.StreamObservations(request, deadline: DateTime.UtcNow.AddSeconds(30));
        var messages = new List<StreamObservationsResponse>();
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            messages.Add(message);
        }
        return messages;
    }

    public static async Task<List<StoredObservation>> QueryAsync(this TestNode node, StreamObservationsRequest? request = null) =>
        [.. (await node.StreamAsync(request ?? new StreamObservationsRequest())).SelectMany(m => m.Observations)];

    /// <summary>A change of a feed as its origin signed it: without the time the serving node received it (each node has its own).</summary>
    public static StoredObservation AsSigned(StoredObservation change)
    {
        var signed = change.Clone();
        signed.ReceivedTime = null;
        return signed;
    }

    /// <summary>
    /// A replica answers "as of" a time with what it had received by then: as of every time it received
    /// changes of <paramref name="origin"/>'s log, its answer must be the origin's as of the last change it
    /// held then (the origin's recorded time of it), whenever that is a whole commit. <paramref name="query"/> renders one node's answer.
    /// </summary>
    public static async Task AssertAsOfAgreesAsync(TestNode origin, TestNode replica, Func<TestNode, Google.Protobuf.WellKnownTypes.Timestamp?, Task<List<string>>> query)
    {
        var received = replica.Rows(
            $"SELECT received_time, MAX(origin_sequence) FROM (SELECT received_time, origin_sequence FROM observations WHERE origin = '{origin.Country}' " +
            $"UNION ALL SELECT received_time, origin_sequence FROM withheld_changes WHERE origin = '{origin.Country}') AS changes GROUP BY received_time ORDER BY received_time");
        Assert.NotEmpty(received);
        long held = 0;
        foreach (var row in received)
        {
            var parts = row.Split('|');
            held = Math.Max(held, long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
            var recorded = (long)origin.Execute($"SELECT recorded_time FROM observations WHERE origin_sequence = {held}")!;
            if (origin.Execute($"SELECT recorded_time FROM observations WHERE origin_sequence = {held + 1}") is long next && next == recorded)
            {
                continue; // part of a commit: a replica that pulls applies whole commits (up to a signed head), a test may not
            }
            var at = MirpsExchange.Node.Store.StoreTime.ToTimestamp(long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(await query(origin, MirpsExchange.Node.Store.StoreTime.ToTimestamp(recorded)), await query(replica, at));
        }
    }
}
