using System.Diagnostics;
using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Mirps.Log;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Node.ChangeLog;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;
using MirpsExchange.Node.Sync;

namespace MirpsExchange.Benchmarks;

/// <summary>
/// The signed change log's own cost, in process, without SQLite or the network: what the origin adds to a
/// submit (per change a salt drawn and three SHA-256 digests in <see cref="ChainLinker"/>, per commit of
/// 10,000 one ECDSA P-256 head signed by <see cref="LogSigner"/>) and what a replica adds to a sync
/// (<see cref="ChainVerifier.Accept"/> over the feed as it arrives: messages of 8,192 changes served by
/// <see cref="ServedObservations"/>, encoded, then decoded by the replica's <see cref="ChangeFeedDecoder"/>
/// outside the timing; per change the digests and the link recomputed, per commit a head's signature checked).
/// </summary>
public static class SigningBenchmark
{
    private const int CommitSize = 10_000, MessageSize = 8_192;
    private const string Origin = "BLZ";

    public static Task<int> RunAsync(BenchmarkArgs args)
    {
        var catalogue = StandardCatalogue.LoadStandard();
        var rows = Workload.Generate(catalogue, Origin, args.Rows).Select(ToWriteRow).ToArray();
        var warmup = rows[..Math.Min(rows.Length, 100_000)];
        var folder = Path.Combine(Path.GetTempPath(), "mirps-bench", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            using var signer = LogSigner.LoadOrCreate(Origin, Path.Combine(folder, "keys", "log-signing.pem"), NullLogger.Instance);
            using var publicKey = ECDsa.Create();
            publicKey.ImportSubjectPublicKeyInfo(signer.PublicKey, out _);
            var keys = new OneKey(signer.KeyId, publicKey);

            Sign(signer, warmup);
            Verify(keys, Feed(Sign(signer, warmup)));
            List<double> salts = [], links = [], heads = [], signTotal = [], verifyTotal = [], headChecks = [], signCpu = [], verifyCpu = [];
            int headCount = 0;
            for (var round = 1; round <= args.Rounds; round++)
            {
                var signed = Sign(signer, rows);
                salts.Add(signed.Salts.TotalSeconds);
                links.Add(signed.Links.TotalSeconds);
                heads.Add(signed.Heads.TotalSeconds);
                signTotal.Add((signed.Salts + signed.Links + signed.Heads).TotalSeconds);
                var feed = Feed(signed);
                headCount = signed.Log.Count;
                var (accept, checks, cpu) = Verify(keys, feed);
                verifyTotal.Add(accept.TotalSeconds);
                verifyCpu.Add(cpu.TotalSeconds);
                signCpu.Add(signed.Cpu.TotalSeconds);
                headChecks.Add(checks.TotalSeconds);
                Console.WriteLine($"  round {round}: signing {signTotal[^1] * 1e6 / rows.Length:0.00} µs/change (salts {salts[^1]:0.000} s, digests and links {links[^1]:0.000} s, {signed.Log.Count} heads {heads[^1]:0.000} s); " +
                    $"verifying {verifyTotal[^1] * 1e6 / rows.Length:0.00} µs/change ({accept.TotalSeconds:0.000} s, of which {headCount} head signatures {checks.TotalSeconds:0.000} s)");
            }

            var (shaAlone, shaFramework) = (ShaAlone(rows.Length), ShaAlone(rows.Length, framework: true));

            var median = SubmitBenchmark.Median;
            var perMillion = 1_000_000.0 / rows.Length;
            string Line(string what, List<double> seconds) =>
                $"  {what,-58} {median(seconds) * perMillion,7:0.000} s per million changes   {median(seconds) * 1e6 / rows.Length,6:0.00} µs/change";
            Console.WriteLine($"The signed change log's cost, in process, {rows.Length:N0} changes in commits of {CommitSize:N0}, median of {args.Rounds} round(s):");
            Console.WriteLine("origin (signing, per submit):");
            Console.WriteLine(Line("salts (16 random bytes per change, drawn per commit)", salts));
            Console.WriteLine(Line("value, content and link digests (ChainLinker)", links));
            Console.WriteLine(Line($"head signatures (ECDSA P-256, one per commit)", heads));
            Console.WriteLine(Line("total", signTotal));
            Console.WriteLine(Line("total, CPU time", signCpu));
            Console.WriteLine($"  {"",-58} {median(heads) / Math.Max(1, rows.Length / CommitSize) * 1e3,7:0.000} ms per head signed");
            Console.WriteLine($"  {"SHA-256 alone, three digests of a change's sizes (60, 100, 125 bytes)",-58} {shaAlone.TotalSeconds * perMillion,7:0.000} s per million changes   (CPU time, Mirps.Log.Sha256, OpenSSL's SHA256_* direct: {Sha256.Direct})");
            Console.WriteLine($"  {"  the same through the framework (a reused IncrementalHash)",-58} {shaFramework.TotalSeconds * perMillion,7:0.000} s per million changes");
            Console.WriteLine("replica (verification, per sync: ChainVerifier.Accept over the decoded feed):");
            Console.WriteLine(Line("total (digests, links, order and time checks, heads)", verifyTotal));
            Console.WriteLine(Line("total, CPU time", verifyCpu));
            Console.WriteLine(Line($"  of which head signatures checked ({headCount} heads)", headChecks));
            Console.WriteLine($"  {"",-58} {median(headChecks) / Math.Max(1, headCount) * 1e3,7:0.000} ms per head verified");
            return Task.FromResult(0);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// The CPU time of three SHA-256 per change over buffers of a change's digests' sizes: the floor under both sides,
    /// through the log's <see cref="Sha256"/> (<paramref name="framework"/>: through a reused IncrementalHash instead).
    /// </summary>
    private static TimeSpan ShaAlone(int changes, bool framework = false)
    {
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var input = new byte[125];
        Span<byte> digest = stackalloc byte[ChangeHash.Size];
        var cpu = Cpu();
        for (var i = 0; i < changes; i++)
        {
            input[0] = (byte)i;
            foreach (var size in (ReadOnlySpan<int>)[60, 100, 125])
            {
                if (framework)
                {
                    sha256.AppendData(input.AsSpan(0, size));
                    sha256.GetHashAndReset(digest);
                }
                else
                {
                    Sha256.Hash(input.AsSpan(0, size), digest);
                }
            }
        }
        return Cpu() - cpu;
    }

    /// <summary>
    /// The replica's apply alone of a verified log (the <c>apply</c> mode): the signed feed decoded and verified
    /// (not timed), then ReplicaWriter.ApplyChangesAsync of each verified batch on a new store, rounds in a row.
    /// </summary>
    public static async Task<int> ApplyAsync(BenchmarkArgs args)
    {
        var rows = Workload.Generate(StandardCatalogue.LoadStandard(), Origin, args.Rows).Select(ToWriteRow).ToArray();
        var folder = Path.Combine(Path.GetTempPath(), "mirps-bench", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            using var signer = LogSigner.LoadOrCreate(Origin, Path.Combine(folder, "keys", "log-signing.pem"), NullLogger.Instance);
            using var publicKey = ECDsa.Create();
            publicKey.ImportSubjectPublicKeyInfo(signer.PublicKey, out _);
            var keys = new OneKey(signer.KeyId, publicKey);
            var verifier = new ChainVerifier(Origin, 0, [], 0, keys, () => StoreTime.ToMicros(DateTimeOffset.UtcNow));
            var decoder = new ChangeFeedDecoder();
            var batches = Feed(Sign(signer, rows)).Select(bytes => verifier.Accept(decoder.Decode(bytes))).Where(v => v.Changes.Count > 0).ToList();
            // The content check alone (ReplicaRules.CheckContent: a submit's rules again at the replica), which the sync
            // worker runs on its read-ahead thread.
            var rules = new ReplicaRules(new MirpsExchange.Catalogue.Validation.ObservationValidator(StandardCatalogue.LoadStandard()), TimeProvider.System);
            for (var round = 0; round <= args.Rounds; round++)
            {
                var started = Cpu();
                foreach (var batch in batches)
                {
                    rules.CheckContent(Origin, batch.Changes);
                }
                Console.WriteLine($"  content check{(round == 0 ? " (warm-up)" : "")}: {(Cpu() - started).TotalSeconds / rows.Length * 1e6:0.000} µs CPU per change");
            }
            List<double> rates = [];
            for (var round = 0; round <= args.Rounds; round++) // round 0 warms up
            {
                var cpu = Cpu();
                var rate = await SyncBenchmark.ApplyAloneAsync(batches, Path.Combine(folder, $"apply-{round}.db"));
                Console.WriteLine($"  round {round}{(round == 0 ? " (warm-up)" : "")}: {rate:N0} changes/s, CPU {(Cpu() - cpu).TotalSeconds:0.00} s");
                if (round > 0)
                {
                    rates.Add(rate);
                }
            }
            Console.WriteLine($"The replica's apply alone of {rows.Length:N0} verified changes ({batches.Count} batches), median of {args.Rounds}: {SubmitBenchmark.Median(rates):N0} changes/s");
            return 0;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    private static WriteRow ToWriteRow(Observation o)
    {
        var period = Period.Parse(o.Period);
        return new WriteRow(o.IndicatorCode, o.Country, o.Period, o.Sex, o.Age, o.CountryOfOrigin, Mirps.Log.AddedDimensions.Of(o), period.Start, period.End,
            o.Value, o.Status, o.Note, Mirps.Log.ValueAttributes.Of(o), RowPolicy.SecretariatOnly);
    }

    /// <summary>The origin's side of a submit's rows, commit by commit as <see cref="SubmitWriter"/> does it, each part timed.</summary>
    private sealed record Signed(WriteRow[] Rows, byte[] SaltBytes, byte[] Hashes, long[] Times, List<LogHead> Log, TimeSpan Salts, TimeSpan Links, TimeSpan Heads, TimeSpan Cpu);

    /// <summary>This process's CPU time so far: on a shared machine, steadier than the wall clock (the work is on one thread).</summary>
    private static TimeSpan Cpu()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    private static Signed Sign(LogSigner signer, WriteRow[] rows)
    {
        var chain = new ChainLinker(Origin, []);
        var allSalts = new byte[rows.Length * ChangeHash.SaltSize];
        var hashes = new byte[rows.Length * ChangeHash.Size];
        var times = new long[rows.Length];
        var log = new List<LogHead>();
        long saltTicks = 0, linkTicks = 0, headTicks = 0, lastTime = 0, sequence = 0;
        var cpu = Cpu();
        for (var start = 0; start < rows.Length; start += CommitSize)
        {
            var count = Math.Min(CommitSize, rows.Length - start);
            var now = Math.Max(StoreTime.ToMicros(DateTimeOffset.UtcNow), lastTime + 1);
            lastTime = now;
            var t0 = Stopwatch.GetTimestamp();
            var salts = ChangeHash.NewSalts(count);
            var t1 = Stopwatch.GetTimestamp();
            for (var i = 0; i < count; i++)
            {
                var hash = hashes.AsSpan((start + i) * ChangeHash.Size, ChangeHash.Size);
                chain.Link(rows[start + i], ++sequence, now, revision: 1, deleted: false, salts.AsSpan(i * ChangeHash.SaltSize, ChangeHash.SaltSize), hash);
                chain.Advance(hash);
            }
            var t2 = Stopwatch.GetTimestamp();
            log.Add(signer.Sign(sequence, chain.Previous, now));
            var t3 = Stopwatch.GetTimestamp();
            (saltTicks, linkTicks, headTicks) = (saltTicks + t1 - t0, linkTicks + t2 - t1, headTicks + t3 - t2);
            salts.CopyTo(allSalts, start * ChangeHash.SaltSize);
            times.AsSpan(start, count).Fill(now);
        }
        cpu = Cpu() - cpu;
        return new Signed(rows, allSalts, hashes, times, log,
            Stopwatch.GetElapsedTime(0, saltTicks), Stopwatch.GetElapsedTime(0, linkTicks), Stopwatch.GetElapsedTime(0, headTicks), cpu);
    }

    /// <summary>The feed a replica (the Secretariat) receives of the signed rows, encoded: messages of 8,192 changes with the heads of the commits that end in each.</summary>
    private static List<byte[]> Feed(Signed signed)
    {
        var served = new ServedObservations(new Reader(null, IsSecretariat: true), StoreTime.ToMicros(DateTimeOffset.UtcNow));
        var messages = new List<byte[]>();
        var head = 0;
        for (var start = 0; start < signed.Rows.Length; start += MessageSize)
        {
            var count = Math.Min(MessageSize, signed.Rows.Length - start);
            var response = new StreamChangesResponse { LastSequence = start + count };
            for (var i = start; i < start + count; i++)
            {
                var row = signed.Rows[i];
                response.Changes.Add(served.Serve(new ObservationRow
                {
                    Origin = Origin, OriginSequence = i + 1, IndicatorCode = row.IndicatorCode, Country = row.Country, Period = row.Period,
                    Sex = row.Sex, Age = row.Age, CountryOfOrigin = row.CountryOfOrigin, PeriodStart = row.PeriodStart, PeriodEnd = row.PeriodEnd,
                    Revision = 1, Value = row.Value, Status = row.Status, Note = row.Note, RecordedTime = signed.Times[i], ReceivedTime = signed.Times[i],
                    Readers = row.Policy.Readers, ReleaseTime = row.Policy.ReleaseTime, SmallCountThreshold = row.Policy.SmallCountThreshold,
                    Salt = signed.SaltBytes.AsSpan(i * ChangeHash.SaltSize, ChangeHash.SaltSize).ToArray(),
                    ChangeHash = signed.Hashes.AsSpan(i * ChangeHash.Size, ChangeHash.Size).ToArray(),
                }));
            }
            while (head < signed.Log.Count && signed.Log[head].Sequence <= start + count)
            {
                response.Heads.Add(signed.Log[head++]);
            }
            messages.Add(response.ToByteArray());
        }
        return messages;
    }

    /// <summary>ChainVerifier.Accept over the feed, each message decoded (not timed) as the replica decodes it; and the heads' signatures checked alone.</summary>
    private static (TimeSpan Accept, TimeSpan Heads, TimeSpan Cpu) Verify(OneKey keys, List<byte[]> feed)
    {
        var verifier = new ChainVerifier(Origin, 0, [], 0, keys, () => StoreTime.ToMicros(DateTimeOffset.UtcNow));
        var decoder = new ChangeFeedDecoder();
        var messages = feed.ConvertAll(bytes => decoder.Decode(bytes));
        var sent = messages.Sum(m => m.Changes.Count);
        long released = 0;
        GC.Collect();
        var cpu = Cpu();
        var watch = Stopwatch.StartNew();
        foreach (var message in messages)
        {
            released += verifier.Accept(message).Changes.Count;
        }
        var accept = watch.Elapsed;
        cpu = Cpu() - cpu;
        verifier.End();
        if (released != sent)
        {
            throw new InvalidOperationException($"the verifier released {released:N0} changes of {sent:N0}");
        }
        var checks = Stopwatch.GetTimestamp();
        foreach (var head in messages.SelectMany(m => m.Heads))
        {
            if (!LogHeadSignature.Verify(head, keys.Key))
            {
                throw new InvalidOperationException($"head {head.Sequence} does not verify");
            }
        }
        return (accept, Stopwatch.GetElapsedTime(checks), cpu);
    }

    private sealed class OneKey(string keyId, ECDsa key) : ILogKeys
    {
        public ECDsa Key => key;

        public ECDsa? Find(string origin, string id, DateTimeOffset signedTime) => origin == Origin && id == keyId ? key : null;

        public void RefreshSoon()
        {
        }
    }
}
