using System.Runtime.CompilerServices;
using Google.Protobuf;
using Mirps.Observation.V1;

namespace MirpsExchange.Node.Grpc;

/// <summary>
/// Cuts a stream of served observations into messages of at most <c>batchSize</c> rows and about 1 MiB, so no
/// message exceeds a client's default 4 MB receive limit whatever the notes hold.
/// </summary>
public static class StoredObservationBatches
{
    public const int MaxMessageBytes = 1024 * 1024;

    /// <summary>Bytes of the tag of a repeated message field (numbers 1-15) in front of each element.</summary>
    private const int TagSize = 1;

    public static async IAsyncEnumerable<List<StoredObservation>> ChunkAsync(
        IAsyncEnumerable<StoredObservation> observations, int batchSize, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var batch = new List<StoredObservation>();
        var bytes = 0; // the message's size, summed as rows are added rather than recomputed for each
        await foreach (var stored in observations.WithCancellation(cancellationToken))
        {
            batch.Add(stored);
            bytes += TagSize + CodedOutputStream.ComputeMessageSize(stored);
            if (batch.Count == batchSize || bytes >= MaxMessageBytes)
            {
                yield return batch;
                batch = [];
                bytes = 0;
            }
        }
        if (batch.Count > 0)
        {
            yield return batch;
        }
    }
}
