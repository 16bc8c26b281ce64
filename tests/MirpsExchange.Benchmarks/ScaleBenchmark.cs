using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Microsoft.Data.Sqlite;
using Mirps.Auth;
using Mirps.Catalog.V1;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using Mirps.Sync.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Cli.Federation;

namespace MirpsExchange.Benchmarks;

/// <summary>
/// Issue 16's scale benchmark: --rows observations (10 M, 50 M) loaded into an origin node through its own submit path
/// (real signed changes: hash chain, a signed head per commit), then, in the same run, the origin's feed copied by a raw
/// baseline (the sync benchmark's: SQLite's own API into the node's schema; on --store postgres a binary COPY), and the
/// initial sync of the whole log to an empty Secretariat process (its rate from start, over its first million and its
/// last), the Secretariat's regional figures over it, and the Secretariat's peak resident memory (VmHWM).
/// </summary>
public static class ScaleBenchmark
{
    private const string Origin = "BLZ";

    /// <summary>The first year the workload writes (every month of it is complete from 1 M rows on): the year the regional figures are asked for.</summary>
    private const int Year = 2000;

    /// <summary>
    /// The workload's first year: <see cref="Year"/>, or earlier when its months from there would run past last year (a period
    /// that has not started is refused; 50 M rows take about 27 years of months), so the log always holds <see cref="Year"/>.
    /// </summary>
    private static int FirstYear(StandardCatalogue catalogue, long rows)
    {
        var perMonth = Workload.Stream(catalogue, Origin, long.MaxValue, Year).TakeWhile(o => o.Period == $"{Year}-01").LongCount();
        var years = (rows + perMonth * 12 - 1) / (perMonth * 12);
        return (int)Math.Min(Year, DateTime.UtcNow.Year - years);
    }

    public static async Task<int> RunAsync(BenchmarkArgs args)
    {
        var postgresStore = args.Store switch
        {
            "sqlite" => false,
            "postgres" => true,
            _ => throw new ArgumentException($"--store {args.Store}: sqlite or postgres"),
        };
        var catalogue = StandardCatalogue.LoadStandard();
        if (args.Keep is not null && postgresStore)
        {
            throw new ArgumentException("--keep: SQLite stores only");
        }
        // --keep DIR: the identity server's and the origin's stores stay there, so a later run skips the load.
        var root = args.Keep ?? Path.Combine(Path.GetTempPath(), "mirps-bench", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        DeleteSecretariat(root);
        ThrowawayPostgres? postgres = null;
        try
        {
            if (postgresStore)
            {
                postgres = await ThrowawayPostgres.StartAsync(null);
                Console.WriteLine($"PostgreSQL: a throwaway server on 127.0.0.1:{postgres.Port} ({postgres.Folder})");
            }
            Task<double> StoreSizeAsync(string service) => ScaleBenchmark.StoreSizeAsync(root, service, postgres);
            async Task<Dictionary<string, string>> StoreOf(string name) => postgres is null ? [] : new()
            {
                ["Store__Provider"] = "postgres",
                ["ConnectionStrings__Store"] = await postgres.CreateDatabaseAsync($"mirps_{name}"),
            };

            using var identity = ServiceProcess.Identity(Path.Combine(root, "identity"), "--Logging:LogLevel:Default=Warning");
            await identity.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
            var issuer = new Uri(identity.Addresses[0].TrimEnd('/') + "/");
            using var http = new HttpClient();
            var credentials = await DevnetCredentials.EnsureAsync(http, root, issuer, new Uri(identity.Addresses[1]), [Origin], CancellationToken.None);
            var tokenEndpoint = new Uri(issuer, MirpsAuth.TokenEndpointPath);

            using var origin = ServiceProcess.Node(Origin, Path.Combine(root, Origin), issuer.ToString(), await StoreOf("origin"),
                ["--Logging:LogLevel:Default=Warning", "--Node:Sharing:Default:Readers=all", .. SyncBenchmark.NodeArguments()]);
            await origin.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
            await DevnetCredentials.RegisterLogKeysAsync(http, root, issuer, new Uri(identity.Addresses[1]),
                [(Origin, Path.Combine(root, Origin, $"log-signing-key-{Origin.ToLowerInvariant()}.pub.pem"))], CancellationToken.None);
            using var belize = new TokenClient(http, tokenEndpoint, credentials[Origin], $"{MirpsAuth.ReadScope} {MirpsAuth.SubmitScope}");
            using var originChannel = AuthenticatedChannel.Create(new Uri(origin.Address), belize);

            // Loading (not the figure measured, but timed): the origin's own submit path, batches of 10,000, two in flight.
            var kept = await SyncBenchmark.HeldAsync(new SyncService.SyncServiceClient(originChannel));
            if (kept != 0 && kept != args.Rows)
            {
                throw new InvalidOperationException($"the origin kept in {root} holds {kept:N0} changes, not {args.Rows:N0}: use another --keep folder");
            }
            Console.WriteLine(kept == args.Rows
                ? $"The origin kept in {root} holds {kept:N0} changes: not loaded again"
                : $"Loading {args.Rows:N0} observations into the origin ({args.Store}) through SubmitObservations...");
            var submit = new ObservationService.ObservationServiceClient(originChannel);
            var load = Stopwatch.StartNew();
            var loaded = kept;
            Task<SubmitObservationsResponse>? inFlight = null;
            var batch = new SubmitObservationsRequest();
            foreach (var observation in Workload.Stream(catalogue, Origin, args.Rows - kept, FirstYear(catalogue, args.Rows)))
            {
                batch.Observations.Add(observation);
                if (batch.Observations.Count == args.BatchSize)
                {
                    loaded += await SendAsync(batch);
                    batch = new SubmitObservationsRequest();
                }
            }
            if (batch.Observations.Count > 0)
            {
                loaded += await SendAsync(batch);
            }
            loaded += inFlight is null ? 0 : Inserted(await inFlight);
            if (loaded != args.Rows)
            {
                throw new InvalidOperationException($"the origin inserted {loaded:N0} of {args.Rows:N0} observations");
            }
            var loadTime = load.Elapsed;
            Console.WriteLine($"  loaded in {loadTime.TotalSeconds:0.0} s ({args.Rows / loadTime.TotalSeconds:N0} obs/s); origin store {await StoreSizeAsync("origin"):0.0} GB; origin peak RSS {PeakRss(origin.Id) / 1024.0:N0} MiB");

            async Task<int> SendAsync(SubmitObservationsRequest request)
            {
                var call = submit.SubmitObservationsAsync(request).ResponseAsync;
                var previous = inFlight;
                inFlight = call;
                return previous is null ? 0 : Inserted(await previous);
            }

            // The raw baseline, in the same run: the same feed received and decoded, written by a plain writer into the node's schema.
            Console.WriteLine("Raw baseline: the origin's feed copied into the node's schema by a plain writer...");
            // Its warm-up first (the JIT of this process and the feed's path; the Secretariat is a fresh process, as deployed).
            var baselineTime = TimeSpan.Zero;
            var baselineRate = double.NaN;
            if (!args.Baseline)
            {
                Console.WriteLine("  skipped (--no-baseline)");
            }
            else
            {
                using (var warmup = await RawSqliteBaseline.CreateAsync(Path.Combine(root, "baseline-warmup.db"), Origin))
                {
                    await SyncBenchmark.RawCopyAsync(originChannel, warmup.WriteAllAsync, stopAfter: 200_000);
                }
                var baselineWatch = Stopwatch.StartNew();
                long baselineRows;
                if (postgres is null)
                {
                    var path = Path.Combine(root, "baseline.db");
                    using (var baseline = await RawSqliteBaseline.CreateAsync(path, Origin))
                    {
                        baselineRows = await SyncBenchmark.RawCopyAsync(originChannel, baseline.WriteAllAsync);
                        Check(baseline.LastSequence(), baselineRows, args.Rows);
                    }
                    SqliteConnection.ClearAllPools();
                    foreach (var file in Directory.GetFiles(root, "baseline.db*"))
                    {
                        File.Delete(file); // its disk is the replica's next (50 M rows are tens of GB each)
                    }
                }
                else
                {
                    var connection = await postgres.CreateDatabaseAsync("mirps_baseline");
                    await using (var baseline = await RawPostgresBaseline.CreateAsync(connection, Origin))
                    {
                        baselineRows = await SyncBenchmark.RawCopyAsync(originChannel, baseline.WriteAllAsync);
                        Check(await baseline.LastSequenceAsync(), baselineRows, args.Rows);
                    }
                    await postgres.DropDatabaseAsync("mirps_baseline");
                }
                baselineTime = baselineWatch.Elapsed;
                baselineRate = baselineRows / baselineTime.TotalSeconds;
                Console.WriteLine($"  {baselineRows:N0} rows in {baselineTime.TotalSeconds:0.0} s: {baselineRate:N0} obs/s");
            }

            // The initial sync: an empty Secretariat pulling the origin's whole log.
            Console.WriteLine("Initial sync of the whole log to an empty Secretariat...");
            var secretariatCredential = DevnetCredentials.PathOf(root, "");
            var syncWatch = Stopwatch.StartNew();
            using var secretariat = ServiceProcess.Secretariat(Path.Combine(root, "secretariat"), issuer.ToString(), await StoreOf("secretariat"),
                ["--Logging:LogLevel:Default=Warning", $"--Node:Credential={secretariatCredential}", $"--Node:Peers:0:Address={origin.Address}",
                    $"--Node:Peers:0:Origins:0={Origin}", $"--Node:Peers:0:Country={Origin}", .. SyncBenchmark.NodeArguments()]);
            await secretariat.WaitUntilListeningAsync(TimeSpan.FromSeconds(120), CancellationToken.None);
            var startUp = syncWatch.Elapsed;
            using var secretariatTokens = new TokenClient(http, tokenEndpoint, credentials[""], MirpsAuth.ReadScope);
            using var secretariatChannel = AuthenticatedChannel.Create(new Uri(secretariat.Address), secretariatTokens);
            var status = new SyncService.SyncServiceClient(secretariatChannel);
            // (elapsed, held) every second: the rate over the first million and over the last, beside the whole.
            var progress = new List<(TimeSpan At, long Held)>();
            long held, lastHeld = -1;
            var progressed = Stopwatch.StartNew();
            var nextReport = TimeSpan.FromSeconds(30);
            while ((held = await SyncBenchmark.HeldAsync(status)) < args.Rows)
            {
                progress.Add((syncWatch.Elapsed, held));
                if (held != lastHeld)
                {
                    (lastHeld, progressed) = (held, Stopwatch.StartNew());
                }
                else if (progressed.Elapsed > TimeSpan.FromSeconds(120))
                {
                    throw new InvalidOperationException($"the Secretariat holds {held:N0} of {args.Rows:N0} changes and has not advanced for two minutes (see {secretariat.LogFile})");
                }
                if (syncWatch.Elapsed > nextReport)
                {
                    Console.WriteLine($"  {syncWatch.Elapsed.TotalSeconds:0} s: {held:N0} changes held, RSS {Rss(secretariat.Id, "VmRSS") / 1024.0:N0} MiB");
                    nextReport += TimeSpan.FromSeconds(30);
                }
                await Task.Delay(held < 1_000_000 ? TimeSpan.FromMilliseconds(100) : TimeSpan.FromSeconds(1));
            }
            var syncTime = syncWatch.Elapsed;
            var syncCpu = secretariat.ProcessorTime;
            progress.Add((syncTime, held));
            var peak = PeakRss(secretariat.Id);
            var rate = args.Rows / syncTime.TotalSeconds;
            var listening = args.Rows / (syncTime - startUp).TotalSeconds;
            var firstMillion = RateBetween(progress, startUp, 0, Math.Min(1_000_000, args.Rows));
            var lastMillion = RateBetween(progress, startUp, Math.Max(0, args.Rows - 1_000_000), args.Rows);

            // The Secretariat's regional figures over what it now holds: every additive indicator of the workload, for one year, then one month.
            var regional = new RegionalService.RegionalServiceClient(secretariatChannel);
            var additive = catalogue.Catalog.Indicators
                .Where(i => i.Aggregation == AggregationRule.Sum && i.Granularities.Contains(PeriodGranularity.Month)).Select(i => i.Code).ToList();
            var yearCells = 0;
            var regionalWatch = Stopwatch.StartNew();
            foreach (var code in additive)
            {
                yearCells += (await regional.GetRegionalValueAsync(new GetRegionalValueRequest { IndicatorCode = code, Period = Year.ToString(CultureInfo.InvariantCulture) })).Cells.Count;
            }
            var regionalYear = regionalWatch.Elapsed;
            var monthCells = 0;
            regionalWatch.Restart();
            foreach (var code in additive)
            {
                monthCells += (await regional.GetRegionalValueAsync(new GetRegionalValueRequest { IndicatorCode = code, Period = $"{Year}-06" })).Cells.Count;
            }
            var regionalMonth = regionalWatch.Elapsed;
            var peakAfterRegional = PeakRss(secretariat.Id);

            Console.WriteLine($"Scale: {args.Rows:N0} observations of one origin, {args.Store} stores");
            Console.WriteLine($"  load through the origin's submit path:      {loadTime.TotalSeconds,8:0.0} s  {args.Rows / loadTime.TotalSeconds,10:N0} obs/s");
            Console.WriteLine($"  raw baseline ({(postgres is null ? "SQLite, plain writer" : "PostgreSQL binary COPY")}):  {baselineTime.TotalSeconds,8:0.0} s  {baselineRate,10:N0} obs/s");
            Console.WriteLine($"  initial sync to an empty Secretariat:        {syncTime.TotalSeconds,8:0.0} s  {rate,10:N0} obs/s   (start-up {startUp.TotalSeconds:0.0} s; from listening {listening:N0} obs/s)");
            Console.WriteLine($"    the Secretariat's CPU, start-up included:           {syncCpu.TotalSeconds,10:0.0} s   ({syncCpu.TotalSeconds * 1e6 / args.Rows:0.00} s per million changes)");
            Console.WriteLine($"    over its first million:                              {firstMillion,10:N0} obs/s");
            Console.WriteLine($"    over its last million:                               {lastMillion,10:N0} obs/s");
            Console.WriteLine($"  ratio sync / baseline:                                 {rate / baselineRate,10:0.00}   (goal on PostgreSQL >= 0.70)");
            Console.WriteLine($"  regional figures, {additive.Count} additive indicators, {Year}:    {regionalYear.TotalMilliseconds,8:N0} ms ({yearCells:N0} cells); {Year}-06: {regionalMonth.TotalMilliseconds:N0} ms ({monthCells:N0} cells)");
            Console.WriteLine($"  Secretariat peak RSS (VmHWM):                {peak / 1024.0,8:N0} MiB   (goal < 1 GiB; after the regional figures {peakAfterRegional / 1024.0:N0} MiB; " +
                $"now anonymous {Rss(secretariat.Id, "RssAnon") / 1024.0:N0} MiB, file-backed (mapped files: SQLite's mmap, the runtime) {Rss(secretariat.Id, "RssFile") / 1024.0:N0} MiB)");
            Console.WriteLine($"  stores: origin {await StoreSizeAsync("origin"):0.0} GB, Secretariat {await StoreSizeAsync("secretariat"):0.0} GB");
            Console.WriteLine($"  goals: 50 M in under 5 minutes (>= 167,000 obs/s) on SQLite; the 10 M rate within 20% of the 1 M rate");
            return 0;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            if (postgres is not null)
            {
                await postgres.DisposeAsync();
            }
            if (args.Keep is not null)
            {
                DeleteSecretariat(root);
                Console.WriteLine($"Kept the identity server and the origin in {root} (--keep)");
            }
            else if (Environment.GetEnvironmentVariable("MIRPS_BENCH_KEEP") is null)
            {
                Directory.Delete(root, recursive: true);
            }
            else
            {
                Console.WriteLine($"Kept {root} (MIRPS_BENCH_KEEP): each process's service.log");
            }
        }
    }

    private static int Inserted(SubmitObservationsResponse response) => response.Inserted;

    /// <summary>The Secretariat's store (and the baseline's): every run starts the sync from an empty store.</summary>
    private static void DeleteSecretariat(string root)
    {
        var secretariat = Path.Combine(root, "secretariat");
        if (Directory.Exists(secretariat))
        {
            Directory.Delete(secretariat, recursive: true);
        }
        foreach (var file in Directory.GetFiles(root, "baseline*.db*"))
        {
            File.Delete(file);
        }
    }

    private static void Check(long lastSequence, long written, long expected)
    {
        if (written != expected || lastSequence != written)
        {
            throw new InvalidOperationException($"the baseline wrote {written:N0} changes of {expected:N0}, up to sequence {lastSequence:N0}");
        }
    }

    /// <summary>Changes per second between the moments the Secretariat first held <paramref name="from"/> and <paramref name="to"/> (from its start listening for 0).</summary>
    private static double RateBetween(List<(TimeSpan At, long Held)> progress, TimeSpan startUp, long from, long to)
    {
        var start = from == 0 ? startUp : progress.First(p => p.Held >= from).At;
        var end = progress.First(p => p.Held >= to).At;
        return (to - from) / Math.Max(0.001, (end - start).TotalSeconds);
    }

    /// <summary>A process's peak resident set (VmHWM of /proc/PID/status), KiB.</summary>
    private static long PeakRss(int pid) => Rss(pid, "VmHWM");

    /// <summary>A line of /proc/PID/status in KiB (VmHWM, VmRSS); 0 off Linux.</summary>
    private static long Rss(int pid, string field)
    {
        var status = $"/proc/{pid}/status";
        if (!File.Exists(status))
        {
            return 0;
        }
        var line = File.ReadLines(status).FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    /// <summary>A SQLite store's files in GB, or its PostgreSQL database's size.</summary>
    private static async Task<double> StoreSizeAsync(string root, string service, ThrowawayPostgres? postgres)
    {
        if (postgres is null)
        {
            return new DirectoryInfo(Path.Combine(root, service == "origin" ? Origin : service)).EnumerateFiles("*.db*").Sum(f => f.Length) / 1e9;
        }
        await using var connection = new Npgsql.NpgsqlConnection(postgres.ConnectionString("postgres"));
        await connection.OpenAsync();
        await using var size = new Npgsql.NpgsqlCommand($"SELECT pg_database_size('mirps_{service}')", connection);
        return Convert.ToInt64(await size.ExecuteScalarAsync(), CultureInfo.InvariantCulture) / 1e9;
    }
}
