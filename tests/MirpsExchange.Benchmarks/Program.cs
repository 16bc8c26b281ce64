using MirpsExchange.Benchmarks;

// Usage: dotnet run -c Release --project tests/MirpsExchange.Benchmarks -- [--rows N] [--rounds N] [--batch-size N]
//        [--concurrency N (calls in flight, default 2: the next batch is encoded and validated while one is written)]
//        [--warmup-rows N]
//        auth [--seconds N]: token issuance rates and the cost of token validation on a node
//        sync [--rows N] [--samples N]: initial sync to an empty peer beside a raw baseline; submit-to-queryable latency
var parsed = BenchmarkArgs.Parse(args);
return args.Contains("auth") ? await AuthBenchmark.RunAsync(parsed)
    : args.Contains("sync") ? await SyncBenchmark.RunAsync(parsed)
    : await SubmitBenchmark.RunAsync(parsed);
