using MirpsExchange.Benchmarks;

// Usage: dotnet run -c Release --project tests/MirpsExchange.Benchmarks -- [--rows N] [--rounds N] [--batch-size N]
//        [--concurrency N (calls in flight, default 2: the next batch is encoded and validated while one is written)]
//        [--warmup-rows N]
return await SubmitBenchmark.RunAsync(BenchmarkArgs.Parse(args));
