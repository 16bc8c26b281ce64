using System.Globalization;

namespace MirpsExchange.Chaos;

/// <summary>
/// The long form, by hand (docs/chaos.md): <c>dotnet run --project tests/MirpsExchange.Chaos -- --minutes 60 --seed 42</c>.
/// Without --seed it draws one and prints it; --seconds sets a short length instead of --minutes. Exit code 1 on any violation.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        long? seed = null;
        var length = TimeSpan.FromMinutes(10);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--seed":
                    seed = long.Parse(args[i + 1], CultureInfo.InvariantCulture);
                    break;
                case "--minutes":
                    length = TimeSpan.FromMinutes(double.Parse(args[i + 1], CultureInfo.InvariantCulture));
                    break;
                case "--seconds":
                    length = TimeSpan.FromSeconds(double.Parse(args[i + 1], CultureInfo.InvariantCulture));
                    break;
                default:
                    await Console.Error.WriteLineAsync($"unknown option {args[i]}; usage: [--seed N] [--minutes M | --seconds S]");
                    return 2;
            }
        }
        if (args.Length % 2 != 0)
        {
            await Console.Error.WriteLineAsync("usage: [--seed N] [--minutes M | --seconds S]");
            return 2;
        }
        var run = new ChaosRun(seed ?? Random.Shared.NextInt64(1, 1_000_000_000), length, Console.Out);
        var violations = await run.RunAsync();
        Console.WriteLine(violations.Count == 0 ? "no violation" : $"{violations.Count} violation(s)");
        return violations.Count == 0 ? 0 : 1;
    }
}
