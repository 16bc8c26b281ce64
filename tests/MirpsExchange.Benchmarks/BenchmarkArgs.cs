namespace MirpsExchange.Benchmarks;

public sealed record BenchmarkArgs(int Rows, int Rounds, int BatchSize, int Concurrency, int WarmupRows, int Seconds, int Samples, string[] Synchronous, string Store)
{
    /// <summary>scale: a folder kept between runs (--keep DIR): the identity server's and the origin's stores are loaded once and reused.</summary>
    public string? Keep { get; init; }

    /// <summary>scale: --no-baseline skips the raw baseline (a run that measures the Secretariat's memory and CPU only).</summary>
    public bool Baseline { get; init; } = true;

    public static BenchmarkArgs Parse(string[] args)
    {
        int Value(string name, int fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
        }
        string Text(string name, string fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }
        return new BenchmarkArgs(
            Rows: Value("--rows", 1_000_000),
            Rounds: Value("--rounds", 1),
            BatchSize: Value("--batch-size", 10_000),
            Concurrency: Value("--concurrency", 2),
            WarmupRows: Value("--warmup-rows", 300_000),
            Seconds: Value("--seconds", 5),
            Samples: Value("--samples", 1_000),
            // submit: the origin's commit settings measured, each with a baseline committing the same way (FULL, the node's default, and NORMAL)
            Synchronous: Text("--synchronous", "FULL,NORMAL").ToUpperInvariant().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            Store: Text("--store", "sqlite"))
        {
            Keep = Text("--keep", "") is { Length: > 0 } keep ? Path.GetFullPath(keep) : null,
            Baseline = !args.Contains("--no-baseline"),
        };
    }
}
