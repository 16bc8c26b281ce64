using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Mirps.Log;
using Mirps.Observation.V1;
using Mirps.Sync.V1;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>One origin's feed as a reader received it: its changes (without the serving node's received time) and heads.</summary>
public sealed record OriginFeed(List<StoredObservation> Changes, List<LogHead> Heads)
{
    public OriginFeed Copy() => new([.. Changes.Select(c => c.Clone())], [.. Heads.Select(h => h.Clone())]);

    /// <summary>What a node serves a replica resuming after <paramref name="after"/>: one message (nothing when there is nothing after).</summary>
    public IEnumerable<StreamChangesResponse> After(long after)
    {
        var changes = Changes.Where(c => c.OriginSequence > after).ToList();
        if (changes.Count > 0)
        {
            yield return new StreamChangesResponse { Changes = { changes }, Heads = { Heads.Where(h => h.Sequence > after) }, LastSequence = changes[^1].OriginSequence };
        }
    }
}

/// <summary>Reading an origin's feed as a reader receives it, and relabelling its changes as a relay would serve them.</summary>
public static class OriginFeeds
{
    /// <summary><paramref name="origin"/>'s log as the caller of <paramref name="channel"/> receives it (PAN: MaliciousPeerTests' origin).</summary>
    public static async Task<OriginFeed> ReadLogAsync(GrpcChannel channel, string origin = "PAN")
    {
        using var call = new SyncService.SyncServiceClient(channel).StreamChanges(new StreamChangesRequest { Origin = origin }, deadline: DateTime.UtcNow.AddSeconds(30));
        var log = new OriginFeed([], []);
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            log.Changes.AddRange(message.Changes.Select(NodeQueries.AsSigned));
            log.Heads.AddRange(message.Heads);
        }
        return log;
    }

    /// <summary>The log of <paramref name="origin"/>'s node as <paramref name="reader"/> ("" the Secretariat) receives it from that node.</summary>
    public static async Task<OriginFeed> ReadLogAsync(TestNode origin, string reader)
    {
        using var tokens = origin.TokensFor(await SharedIdentity.CredentialAsync(reader));
        using var channel = origin.ChannelWith(tokens.ToCallCredentials());
        return await ReadLogAsync(channel, origin.Country);
    }

    /// <summary><paramref name="message"/> with the change at <paramref name="sequence"/> withheld as a node withholds it, digests kept.</summary>
    public static StreamChangesResponse Relabel(StreamChangesResponse message, long sequence, Withholding withholding)
    {
        var copy = message.Clone();
        for (var i = 0; i < copy.Changes.Count; i++)
        {
            var change = copy.Changes[i];
            if (change.OriginSequence != sequence)
            {
                continue;
            }
            if (withholding == Withholding.SmallCount)
            {
                var value = new byte[ChangeHash.Size];
                ChangeHash.ValueDigest(change.Salt.ToByteArray(), change.Observation.Value, change.Observation.Status, change.Observation.Note, value);
                change.Observation.Value = 0;
                change.Observation.Status = ObservationStatus.Confidential;
                change.Observation.Note = "";
                change.Salt = ByteString.Empty;
                change.ValueDigest = ByteString.CopyFrom(value);
                change.Withholding = Withholding.SmallCount;
                continue;
            }
            var content = new byte[ChangeHash.Size];
            Assert.True(ChangeHash.TryContentDigest(change, content, out var problem), problem);
            copy.Changes[i] = new StoredObservation
            {
                Origin = change.Origin, OriginSequence = change.OriginSequence, RecordedTime = change.RecordedTime, ReceivedTime = change.ReceivedTime,
                Policy = change.Policy, Withholding = withholding, ContentDigest = ByteString.CopyFrom(content),
            };
        }
        return copy;
    }
}
