using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Mirps.Sync.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Node.Store;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Grpc;

/// <summary>
/// The change feed: every stored row is a change of its origin's log, identified by (origin, sequence).
/// Readers are those of the node's reads (its own State and the Secretariat; sharing policies come with
/// the peer sync).
/// </summary>
public sealed class SyncGrpcService(NodeDbContext db, ChangeNotifier notifier, StandardCatalogue catalogue, MirpsExchange.Node.Sync.PeerStates peers, IOptions<NodeOptions> options, IHostApplicationLifetime lifetime) : SyncService.SyncServiceBase
{
    /// <summary>How long a following stream sleeps without a commit before it looks at the log again anyway.</summary>
    public static readonly TimeSpan FollowRecheck = TimeSpan.FromSeconds(30);

    public override async Task StreamChanges(StreamChangesRequest request, IServerStreamWriter<StreamChangesResponse> responseStream, ServerCallContext context)
    {
        NodeAccess.RequireReader(context, options.Value.Country);
        var violations = new List<(string, string)>();
        if (!catalogue.ReportingCountries.Contains(request.Origin))
        {
            violations.Add(("origin", $"'{request.Origin}' is not a MIRPS State ({string.Join(", ", catalogue.ReportingCountries.Order())})"));
        }
        if (request.AfterSequence < 0)
        {
            violations.Add(("after_sequence", "the sequence to resume after must not be negative (0 reads the whole log)"));
        }
        if (request.BatchSize is < 0 or > ObservationGrpcService.MaxStreamBatchSize)
        {
            violations.Add(("batch_size", $"batch_size must be between 1 and {ObservationGrpcService.MaxStreamBatchSize:N0} (0 for {ObservationGrpcService.DefaultStreamBatchSize:N0})"));
        }
        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument($"invalid change feed request: {violations[0].Item2}", violations);
        }

        var origin = request.Origin;
        var after = request.AfterSequence;
        var batchSize = request.BatchSize == 0 ? ObservationGrpcService.DefaultStreamBatchSize : request.BatchSize;
        // A follower ends with the call or when the node shuts down (a graceful stop waits for open calls).
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        var cancellation = linked.Token;
        while (!cancellation.IsCancellationRequested)
        {
            // Taken before reading: a commit after this read wakes the wait below.
            var committed = notifier.Next;
            var sent = false;
            var rows = db.Observations.AsNoTracking()
                .Where(o => o.Origin == origin && o.OriginSequence > after)
                .OrderBy(o => o.OriginSequence)
                .Take(batchSize)
                .AsAsyncEnumerable();
            await foreach (var batch in StoredObservationBatches.ChunkAsync(rows, batchSize, cancellation))
            {
                after = batch[^1].OriginSequence;
                await responseStream.WriteAsync(new StreamChangesResponse { Changes = { batch }, LastSequence = after }, cancellation);
                sent = true;
            }
            if (sent)
            {
                continue; // there may be more right away
            }
            if (!request.Follow)
            {
                return;
            }
            try
            {
                await committed.WaitAsync(FollowRecheck, cancellation);
            }
            catch (TimeoutException)
            {
                // nothing committed for a while: look again anyway
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                return; // the follower went away, or the node is stopping: the follower resumes elsewhere or later
            }
        }
    }

    public override async Task<GetSyncStatusResponse> GetSyncStatus(GetSyncStatusRequest request, ServerCallContext context)
    {
        NodeAccess.RequireReader(context, options.Value.Country);
        var origins = await db.Observations.AsNoTracking().Select(o => o.Origin).Distinct().OrderBy(o => o).ToListAsync(context.CancellationToken);
        var response = new GetSyncStatusResponse { CatalogVersion = catalogue.Version, CatalogDigest = catalogue.Digest, Peers = { peers.Snapshot() } };
        foreach (var origin in origins)
        {
            var (sequence, time) = await ObservationWriter.LastChangeAsync(db, origin, context.CancellationToken);
            response.Origins.Add(new OriginStatus { Origin = origin, LatestSequence = sequence, LastChangeTime = ObservationWriter.ToTimestamp(time) });
        }
        return response;
    }
}
