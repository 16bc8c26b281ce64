using MirpsExchange.Benchmarks;

// Usage: dotnet run -c Release --project tests/MirpsExchange.Benchmarks -- [submit] [--rows N] [--rounds N] [--concurrency N]
return await SubmitBenchmark.RunAsync(BenchmarkArgs.Parse(args));
