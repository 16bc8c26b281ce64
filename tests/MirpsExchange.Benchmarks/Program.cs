using MirpsExchange.Benchmarks;

// Usage: dotnet run -c Release --project tests/MirpsExchange.Benchmarks -- [--rows N] [--rounds N] [--batch-size N]
//        [--concurrency N (calls in flight, default 2: the next batch is encoded and validated while one is written)]
//        [--warmup-rows N] [--synchronous FULL,NORMAL (the commit settings measured, each node beside a baseline committing
//                             the same way; default both, back to back per round)]
//                            (MIRPS_BENCH_NODE_ARGS="--Node:CatalogueFile=FILE ...": extra arguments for the node, e.g. a
//                             catalogue without validationRules to measure the rules' cost)
//        auth [--seconds N] [--samples N (fresh-token calls per round)]: token issuance rates; on a node, health and GetCatalog
//             without a token, with a cached one, with a fresh one per call, on cleartext loopback and over mTLS with bound tokens
//        scale [--rows N (10,000,000 and 50,000,000)] [--store sqlite|postgres] [--batch-size N]: N observations loaded into an origin
//             through its submit path (timed), then in the same run a raw baseline copy of its feed (SQLite plain writer, or
//             PostgreSQL binary COPY), the initial sync to an empty Secretariat, regional figures over it, the Secretariat's peak RSS
//        sync [--rows N] [--rounds N] [--samples N]: initial sync to an empty peer beside a raw baseline; submit-to-queryable latency
//             (MIRPS_BENCH_PUBLISHED=DIR: both nodes run from a node published before, e.g. another commit's, instead of publishing)
//        signing [--rows N] [--rounds N]: the signed change log's own cost in process: the origin's salts, digests and head
//             signatures; the replica's ChainVerifier.Accept over the decoded feed (per million changes)
//        apply [--rows N] [--rounds N]: the replica's apply alone (ReplicaWriter) of a signed, verified log, in process
//        rules [--rows N] [--rounds N]: the validation rules' engine alone in process over the submit workload (no store)
//        regional [--rows N (per State, default 1,000,000)] [--rounds N]: the Secretariat's regional sums for one year beside a raw GROUP BY
//        dashboard [--rows N (per State, default 1,000,000)] [--rounds N (samples per view, at least 20)]: the Secretariat's web pages
//             (regional table of one period, 10-year series of one indicator by State), the SDMX data queries and the gRPC calls
//             for the same figures: p50 / p95 of each
var parsed = BenchmarkArgs.Parse(args);
return args.Contains("scale") ? await ScaleBenchmark.RunAsync(parsed)
    : args.Contains("auth") ? await AuthBenchmark.RunAsync(parsed)
    : args.Contains("sync") ? await SyncBenchmark.RunAsync(parsed)
    : args.Contains("apply") ? await SigningBenchmark.ApplyAsync(parsed)
    : args.Contains("signing") ? await SigningBenchmark.RunAsync(parsed)
    : args.Contains("dashboard") ? await DashboardBenchmark.RunAsync(parsed)
    : args.Contains("regional") ? await RegionalBenchmark.RunAsync(parsed)
    : args.Contains("rules") ? await RulesBenchmark.RunAsync(parsed)
    : await SubmitBenchmark.RunAsync(parsed);
