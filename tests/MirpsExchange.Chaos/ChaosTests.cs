using Xunit.Abstractions;

namespace MirpsExchange.Chaos;

/// <summary>
/// The chaos harness's CI form: three fixed seeds and one drawn for this run (its value is in the test's name and
/// output), each a short schedule of faults on a fresh federation. A failing seed replays exactly:
/// <c>dotnet run --project tests/MirpsExchange.Chaos -- --seed N --seconds 25</c>.
/// </summary>
public class ChaosTests(ITestOutputHelper output)
{
    /// <summary>The length of each CI run's chaos (setting up, converging and the final checks come on top).</summary>
    public static readonly TimeSpan Length = TimeSpan.FromSeconds(25);

    public static TheoryData<long> Seeds() => new() { 1, 2, 3, Random.Shared.NextInt64(4, 1_000_000_000) };

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
