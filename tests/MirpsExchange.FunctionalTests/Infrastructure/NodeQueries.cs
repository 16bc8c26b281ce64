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
}
