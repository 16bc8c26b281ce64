using Xunit.Abstractions;

namespace MirpsExchange.Chaos;

/// <summary>
/// The chaos harness's CI form: three fixed seeds and one drawn for this run (MIRPS_CHAOS_SEED, which .ci/run draws and
/// prints; else drawn here; its value is in the test's name), each a short schedule of faults on a fresh federation. A
/// failing seed replays its schedule exactly: <c>dotnet run --project tests/MirpsExchange.Chaos -- --seed N --seconds 20</c>.
/// </summary>
public class ChaosTests(ITestOutputHelper output)
{
    /// <summary>The length of each CI run's chaos (setting up, converging and the final checks come on top).</summary>
    public static readonly TimeSpan Length = TimeSpan.FromSeconds(20);

    public static TheoryData<long> Seeds() => new()
    {
        1, 2, 3,
        long.TryParse(Environment.GetEnvironmentVariable("MIRPS_CHAOS_SEED"), System.Globalization.CultureInfo.InvariantCulture, out var drawn) ? drawn : Random.Shared.NextInt64(4, 1_000_000_000),
    };

    [Theory]
    [MemberData(nameof(Seeds), DisableDiscoveryEnumeration = true)]
    public async Task Faults_on_a_seeded_schedule_break_no_invariant(long seed)
    {
        var text = new StringWriter();
        var violations = await new ChaosRun(seed, Length, TextWriter.Synchronized(text)).RunAsync();
        output.WriteLine(text.ToString());
        // On the console too, so CI's log carries the seed and the schedule of every run (passing ones included).
        Console.WriteLine($"chaos seed {seed}: {(violations.Count == 0 ? "no violation" : $"{violations.Count} violation(s)")}");
        Assert.True(violations.Count == 0, $"seed {seed}:\n{string.Join("\n", violations)}\n\n{text}");
    }
}
