using System.Buffers;
using System.Diagnostics;
using System.Threading.Channels;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;
using MirpsExchange.Node.Sync;
using Mirps.Auth;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Cli.Federation;

namespace MirpsExchange.Benchmarks;

/// <summary>
/// Initial sync of an origin's log to an empty peer (both node processes), beside a raw baseline in the
/// same run: the same change feed received over loopback gRPC and decoded on one thread while a plain
/// writer inserts it into the node's own table on another (<see cref="RawCopyAsync"/>); then
/// the latency from a committed submit at the origin to the change being queryable on a following peer.
/// </summary>
public static class SyncBenchmark
{
    public static async Task<int> RunAsync(BenchmarkArgs args)
    {
        var catalogue = StandardCatalogue.LoadStandard();
        var root = Path.Combine(Path.GetTempPath(), "mirps-bench", Guid.NewGuid().ToString("N"));
        try
        {
            // Both nodes run as published: the replica's start-up is part of the sync measured. MIRPS_BENCH_PUBLISHED names a
            // node published before (by an earlier run kept with MIRPS_BENCH_KEEP, or `dotnet publish -r`), e.g. another
            // commit's, so paired runs compare two builds of the node under one harness without publishing each time.
            var published = Environment.GetEnvironmentVariable("MIRPS_BENCH_PUBLISHED") is { Length: > 0 } given
                ? given
                : await PublishedNode.PublishAsync(Path.Combine(root, "published-node"));
            using var identity = ServiceProcess.Identity(Path.Combine(root, "identity"), "--Logging:LogLevel:Default=Warning");
            await identity.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
            var issuer = new Uri(identity.Addresses[0].TrimEnd('/') + "/");
            using var http = new HttpClient();
            var credentials = await DevnetCredentials.EnsureAsync(http, root, issuer, new Uri(identity.Addresses[1]), ["BLZ", "PAN"], CancellationToken.None);
            var tokenEndpoint = new Uri(issuer, MirpsAuth.TokenEndpointPath);

            using var origin = ServiceProcess.PublishedNode(published, "BLZ", Path.Combine(root, "BLZ"), issuer.ToString(), ["--Logging:LogLevel:Default=Warning", "--Node:Sharing:Default:Readers=all", .. NodeArguments()]);
            await origin.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
            // The origin made its log-signing key at its first start: registered as an admin does, so replicas verify its log.
            await DevnetCredentials.RegisterLogKeysAsync(http, root, issuer, new Uri(identity.Addresses[1]),
                [("BLZ", Path.Combine(root, "BLZ", "log-signing-key-blz.pub.pem"))], CancellationToken.None);
            using var belize = new TokenClient(http, tokenEndpoint, credentials["BLZ"], $"{MirpsAuth.ReadScope} {MirpsAuth.SubmitScope}");
            using var originChannel = AuthenticatedChannel.Create(new Uri(origin.Address), belize);
            Console.WriteLine($"Loading {args.Rows:N0} observations into the origin...");
            var rows = Workload.Generate(catalogue, "BLZ", args.Rows);
            var submit = new ObservationService.ObservationServiceClient(originChannel);
            for (var start = 0; start < rows.Count; start += 10_000)
            {
                await submit.SubmitObservationsAsync(new SubmitObservationsRequest { Observations = { rows.Skip(start).Take(10_000) } });
            }

            // Rounds alternate the feed alone, the baseline and the node, so machine noise falls on all three alike.
            var puller = Path.Combine(root, "credentials", "secretariat.json");
            List<double> feeds = [], baselines = [], nodes = [], listening = [], ratios = [];
            using var panama = new TokenClient(http, tokenEndpoint, credentials["PAN"], MirpsAuth.ReadScope);
            ServiceProcess? replica = null;
            // The baseline's warm-up (the replica's side is a fresh process, precompiled, as deployed): its JIT and the feed's path.
            await RawCopyAsync(originChannel, Path.Combine(root, "baseline-warmup.db"), stopAfter: 200_000);
            for (var round = 1; round <= args.Rounds; round++)
            {
                replica?.Dispose(); // the last round's replica stays for the latency
                // The feed alone: read, served and received, nothing written (what both copies below start from).
                var feedWatch = Stopwatch.StartNew();
                var feedRows = await DrainAsync(originChannel);
                feeds.Add(feedRows / feedWatch.Elapsed.TotalSeconds);

                // Baseline: the feed over loopback gRPC, decoded while the last message is written into the node's table, tx per message.
                var (baselineCpu, originBaselineCpu) = (Process.GetCurrentProcess().TotalProcessorTime, origin.ProcessorTime);
                var baselineWatch = Stopwatch.StartNew();
                var baselineRows = await RawCopyAsync(originChannel, Path.Combine(root, $"baseline-{round}.db"));
                if (baselineRows != rows.Count)
                {
                    throw new InvalidOperationException($"the baseline copied {baselineRows:N0} changes of {rows.Count:N0}");
                }
                baselines.Add(baselineRows / baselineWatch.Elapsed.TotalSeconds);
                (baselineCpu, originBaselineCpu) = (Process.GetCurrentProcess().TotalProcessorTime - baselineCpu, origin.ProcessorTime - originBaselineCpu);

                // The node: an empty peer pulling with the Secretariat's credential (the origin shares everything: this measures the sync, not the policy).
                var originCpu = origin.ProcessorTime;
                var replicaWatch = Stopwatch.StartNew();
                replica = ServiceProcess.PublishedNode(published, "PAN", Path.Combine(root, $"PAN-{round}"), issuer.ToString(),
                    ["--Logging:LogLevel:Default=Warning", $"--Node:Credential={puller}", $"--Node:Peers:0:Address={origin.Address}", "--Node:Peers:0:Origins:0=BLZ", "--Node:Peers:0:Country=BLZ", .. NodeArguments()]);
                await replica.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
                var startUp = replicaWatch.Elapsed;
                using var statusChannel = AuthenticatedChannel.Create(new Uri(replica.Address), panama);
                var status = new SyncService.SyncServiceClient(statusChannel);
                // Polled sparsely, then finely near the end: each poll is a request the replica serves (a token
                // validated, a query per State), so polling often would add to the load it measures.
                long held, lastHeld = -1;
                var progressed = Stopwatch.StartNew();
                while ((held = await HeldAsync(status)) < rows.Count)
                {
                    if (held != lastHeld)
                    {
                        (lastHeld, progressed) = (held, Stopwatch.StartNew());
                    }
                    else if (progressed.Elapsed > TimeSpan.FromSeconds(60))
                    {
                        throw new InvalidOperationException($"the replica holds {held:N0} of {rows.Count:N0} changes and has not advanced for a minute: {await status.GetSyncStatusAsync(new GetSyncStatusRequest())}");
                    }
                    var perSecond = held / Math.Max(0.1, (replicaWatch.Elapsed - startUp).TotalSeconds);
                    var remaining = held == 0 ? 0.5 : (rows.Count - held) / perSecond;
                    await Task.Delay(TimeSpan.FromSeconds(Math.Clamp(remaining / 2, 0.01, 0.5)));
                }
                var (replicaCpu, originCpuUsed) = (replica.ProcessorTime, origin.ProcessorTime - originCpu);
                nodes.Add(rows.Count / replicaWatch.Elapsed.TotalSeconds);
                listening.Add(rows.Count / (replicaWatch.Elapsed - startUp).TotalSeconds);
                ratios.Add(nodes[^1] / baselines[^1]);
                Console.WriteLine($"  round {round}: feed {feeds[^1]:N0}, baseline {baselines[^1]:N0}, node {nodes[^1]:N0} obs/s (start-up {startUp.TotalSeconds:0.0} s), ratio {ratios[^1]:0.00}; CPU: replica {replicaCpu.TotalSeconds:0.0} s, origin {originCpuUsed.TotalSeconds:0.0} s (baseline's process {baselineCpu.TotalSeconds:0.0} s, origin {originBaselineCpu.TotalSeconds:0.0} s)");
            }
            // Where the limit is: the replica's apply alone, in this process, from messages already received and parsed.
            var messages = await ReceiveAsync(originChannel);
            var applyAlone = await ApplyAloneAsync(messages, Path.Combine(root, "apply-alone.db"));
            var (parsed, decoded) = DecodeAlone(messages);
            using var replicaProcess = replica!;
            using var replicaChannel = AuthenticatedChannel.Create(new Uri(replicaProcess.Address), panama);

            // Latency (on the last round's replica): single-observation submits at the origin until each is queryable on the following peer.
            var history = new ObservationService.ObservationServiceClient(replicaChannel);
            List<double> latencies = [], submits = [], reads = [], polls = [];
            for (var i = 0; i < args.Samples; i++)
            {
                // A revision of the note (a new value would break the catalogue's rules on the workload's complete breakdowns).
                var observation = rows[i].Clone();
                observation.Note = $"latency sample {i}";
                var watch = Stopwatch.StartNew();
                await submit.SubmitObservationsAsync(new SubmitObservationsRequest { Observations = { observation } });
                submits.Add(watch.Elapsed.TotalMilliseconds);
                for (var poll = 1; ; poll++)
                {
                    var read = Stopwatch.StartNew();
                    var revisions = await history.GetObservationHistoryAsync(new GetObservationHistoryRequest { Key = observation.Key() });
                    reads.Add(read.Elapsed.TotalMilliseconds);
                    if (revisions.Revisions[^1].Observation.Note == observation.Note)
                    {
                        polls.Add(poll);
                        break;
                    }
                }
                latencies.Add(watch.Elapsed.TotalMilliseconds);
            }
            latencies.Sort();
            submits.Sort();
            reads.Sort();
            polls.Sort();

            var median = SubmitBenchmark.Median;
            Console.WriteLine($"Initial sync of {rows.Count:N0} observations to an empty peer (node processes, loopback), median of {args.Rounds} round(s):");
            Console.WriteLine($"  the feed alone (served over gRPC, not written):    {median(feeds),10:N0} obs/s");
            Console.WriteLine($"  raw baseline (feed -> node's table, plain writer):  {median(baselines),10:N0} obs/s   ({RawSqliteBaseline.StorePageSize:N0}-byte pages)");
            Console.WriteLine($"  node peer sync (pull, validate order, apply):       {median(nodes),10:N0} obs/s   (includes the replica's start-up)");
            Console.WriteLine($"  the same from the moment it listens:                {median(listening),10:N0} obs/s");
            Console.WriteLine($"  the replica's apply alone (in process, parsed):     {applyAlone,10:N0} obs/s   (no network, no origin on the other core)");
            Console.WriteLine($"  the feed's messages decoded alone, in process:      {decoded.Rate,10:N0} obs/s   ({decoded.Collections} collections; Google.Protobuf's parser: {parsed.Rate:N0} obs/s, {parsed.Collections} collections)");
            Console.WriteLine($"  ratio node / baseline:                               {median(ratios),10:0.00}   (goal >= 0.70 and >= 150,000 obs/s)");
            Console.WriteLine($"Submit-to-queryable latency on a following peer, {latencies.Count} single-observation submits:");
            Console.WriteLine($"  p50 {latencies[latencies.Count / 2]:0.0} ms, p99 {latencies[(int)(latencies.Count * 0.99)]:0.0} ms   (goal p50 < 50 ms, p99 < 250 ms)");
            Console.WriteLine($"  of which the submit at the origin p50 {submits[submits.Count / 2]:0.0} ms; a history read at the replica p50 {reads[reads.Count / 2]:0.0} ms, p99 {reads[(int)(reads.Count * 0.99)]:0.0} ms; reads per sample p50 {polls[polls.Count / 2]:0}, p99 {polls[(int)(polls.Count * 0.99)]:0}");
            return 0;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            if (Environment.GetEnvironmentVariable("MIRPS_BENCH_KEEP") is null)
            {
                Directory.Delete(root, recursive: true);
            }
            else
            {
                Console.WriteLine($"Kept {root} (MIRPS_BENCH_KEEP): each process's service.log");
            }
        }
    }

    /// <summary>Extra arguments for both nodes (MIRPS_BENCH_NODE_ARGS, space-separated), e.g. a log level to profile with.</summary>
    internal static string[] NodeArguments() => Environment.GetEnvironmentVariable("MIRPS_BENCH_NODE_ARGS") is { Length: > 0 } extra ? extra.Split(' ') : [];

    /// <summary>The latest sequence of BLZ the replica holds; 0 while it holds nothing of BLZ.</summary>
    internal static async Task<long> HeldAsync(SyncService.SyncServiceClient status) =>
        (await status.GetSyncStatusAsync(new GetSyncStatusRequest())).Origins.FirstOrDefault(o => o.Origin == "BLZ")?.LatestSequence ?? 0;

    private static async Task<long> DrainAsync(Grpc.Net.Client.GrpcChannel channel)
    {
        long count = 0;
        using var call = new SyncService.SyncServiceClient(channel).StreamChanges(new StreamChangesRequest { Origin = "BLZ", BatchSize = 10_000 });
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            count += message.Changes.Count;
        }
        return count;
    }

    private static async Task<List<StoredObservation>[]> ReceiveAsync(Grpc.Net.Client.GrpcChannel channel)
    {
        var messages = new List<List<StoredObservation>>();
        using var call = new SyncService.SyncServiceClient(channel).StreamChanges(new StreamChangesRequest { Origin = "BLZ", BatchSize = 8_192 });
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            messages.Add([.. message.Changes]);
        }
        return [.. messages];
    }

    /// <summary>
    /// The feed's messages, as encoded on the wire, decoded by the replica's decoder and by Google.Protobuf's
    /// parser, each keeping the last two messages as the sync worker does (one applied, one read ahead).
    /// </summary>
    private static ((double Rate, int Collections) Parsed, (double Rate, int Collections) Decoded) DecodeAlone(List<StoredObservation>[] messages)
    {
        var encoded = messages.Select(m => new StreamChangesResponse { Changes = { m } }.ToByteArray()).ToArray();
        var count = messages.Sum(m => m.Count);
        (double, int) Measure(Func<byte[], StreamChangesResponse> decode)
        {
            StreamChangesResponse? previous = null, current = null;
            GC.Collect();
            var collections = GC.CollectionCount(0);
            var watch = Stopwatch.StartNew();
            foreach (var bytes in encoded)
            {
                (previous, current) = (current, decode(bytes));
            }
            GC.KeepAlive(previous);
            return (count / watch.Elapsed.TotalSeconds, GC.CollectionCount(0) - collections);
        }
        var decoder = new ChangeFeedDecoder();
        return (Measure(StreamChangesResponse.Parser.ParseFrom), Measure(bytes => decoder.Decode(bytes)));
    }

    /// <summary>ReplicaWriter.ApplyChangesAsync, one transaction per message as the sync worker applies them, on a new store.</summary>
    private static Task<double> ApplyAloneAsync(List<StoredObservation>[] messages, string path) =>
        ApplyAloneAsync([.. messages.Select(m => new VerifiedChanges(m, new byte[m.Count * Mirps.Log.ChangeHash.Size], []))], path);

    /// <summary>ReplicaWriter.ApplyChangesAsync of verified batches, one transaction each, on a new store; returns changes/s.</summary>
    internal static async Task<double> ApplyAloneAsync(List<VerifiedChanges> batches, string path)
    {
        var options = new DbContextOptionsBuilder<NodeDbContext>()
            .UseSqlite($"Data Source={path}").AddInterceptors(new SqlitePragmas()).Options;
        await using (var setup = new NodeDbContext(options))
        {
            await setup.Database.MigrateAsync();
        }
        var (gate, notifier) = (new WriteGate(), new ChangeNotifier());
        var catalogue = MirpsExchange.Catalogue.StandardCatalogue.LoadStandard();
        var rules = new ReplicaRules(new MirpsExchange.Catalogue.Validation.ObservationValidator(catalogue), TimeProvider.System);
        var watch = Stopwatch.StartNew();
        long count = 0;
        foreach (var verified in batches)
        {
            await using var db = new NodeDbContext(options);
            var (applied, _, _) = await new ReplicaWriter(db, gate, notifier, rules, new ReceiveStamps(TimeProvider.System), catalogue).ApplyChangesAsync("BLZ", verified, CancellationToken.None);
            count += applied;
        }
        return count / watch.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// The sync baseline: the origin's feed, received over loopback gRPC and decoded as the replica does it
    /// (<see cref="ChangeFeedDecoder"/>, messages of 8,192 changes) on another thread, each message turned
    /// into rows there, in the order it came unless it is more than 16 runs in key order (then sorted),
    /// while the writer writes the previous one into the node's own table (<see cref="RawSqliteBaseline"/>),
    /// a transaction per message. <paramref name="stopAfter"/>: stop after that many changes (a warm-up).
    /// </summary>
    private static async Task<long> RawCopyAsync(Grpc.Net.Client.GrpcChannel channel, string path, long stopAfter = long.MaxValue)
    {
        using var baseline = await RawSqliteBaseline.CreateAsync(path, "BLZ");
        var written = await RawCopyAsync(channel, baseline.WriteAllAsync, stopAfter);
        if (stopAfter == long.MaxValue && baseline.LastSequence() != written)
        {
            throw new InvalidOperationException($"the baseline holds changes up to {baseline.LastSequence():N0} after writing {written:N0}");
        }
        return written;
    }

    /// <summary>
    /// BLZ's feed received and decoded as the replica does it, turned into rows on one thread while
    /// <paramref name="writeAll"/> writes the previous message's (a plain writer of SQLite or PostgreSQL); returns the rows written.
    /// </summary>
    internal static async Task<long> RawCopyAsync(Grpc.Net.Client.GrpcChannel channel, Func<ChannelReader<BaselineBatch>, Task<long>> writeAll, long stopAfter = long.MaxValue)
    {
        var batches = Channel.CreateBounded<BaselineBatch>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
        using var stop = new CancellationTokenSource();
        var receive = Task.Run(async () =>
        {
            try
            {
                using var call = new ChangeFeedDecoder().StreamChanges(channel.CreateCallInvoker(),
                    new StreamChangesRequest { Origin = "BLZ", BatchSize = 8_192 }, stop.Token);
                long received = 0;
                await foreach (var message in call.ResponseStream.ReadAllAsync(stop.Token))
                {
                    var changes = message.Changes;
                    var rows = ArrayPool<BaselineRow>.Shared.Rent(changes.Count);
                    var now = StoreTime.ToMicros(DateTimeOffset.UtcNow);
                    var runs = 1;
                    for (var i = 0; i < changes.Count; i++)
                    {
                        var change = changes[i];
                        if (change.Revision != 1 || change.Deleted || change.Withholding != Withholding.Unspecified)
                        {
                            throw new InvalidOperationException($"the baseline writes first revisions only; change {change.OriginSequence} is not one");
                        }
                        rows[i] = RawSqliteBaseline.FromObservation(change.Observation, change.OriginSequence,
                            StoreTime.ToMicros(change.RecordedTime.ToDateTimeOffset()), RowPolicy.FromMessage(change.Policy), change.Salt.Memory, now);
                        if (i > 0 && RawSqliteBaseline.KeyOrder.Instance.Compare(rows[i - 1], rows[i]) > 0)
                        {
                            runs++;
                        }
                    }
                    if (runs > 16)
                    {
                        Array.Sort(rows, 0, changes.Count, RawSqliteBaseline.KeyOrder.Instance);
                    }
                    await batches.Writer.WriteAsync(new BaselineBatch(rows, changes.Count), stop.Token);
                    if ((received += changes.Count) >= stopAfter)
                    {
                        break;
                    }
                }
                batches.Writer.Complete();
            }
            catch (Exception e)
            {
                batches.Writer.Complete(e);
            }
        });
        var written = await writeAll(batches.Reader);
        await receive;
        return written;
    }
}
