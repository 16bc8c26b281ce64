using Mirps.Catalog.V1;

namespace MirpsExchange.Catalogue;

/// <summary>
/// A catalogue <see cref="Ratio"/> (UNHCR's refugee recognition rate, total protection rate) over several
/// States: the sum of the numerator's components over the sum of the denominator's, both over the States
/// that reported every component the ratio reads, so numerator and denominator cover the same States.
/// Never the mean of the States' own ratios.
/// </summary>
public static class RatioOfSums
{
    /// <summary>
    /// The ratio over <paramref name="states"/> (in their order), reading each State's value of an indicator's
    /// total cell from <paramref name="valueOf"/> (null: not reported).
    /// </summary>
    public static RatioResult Compute(Ratio ratio, IReadOnlyList<string> states, Func<string, string, double?> valueOf)
    {
        var components = ratio.DenominatorIndicatorCodes.Union(ratio.NumeratorIndicatorCodes, StringComparer.Ordinal).ToList();
        double numerator = 0, denominator = 0;
        var included = new List<string>();
        var excluded = new List<string>();
        foreach (var state in states)
        {
            var values = components.ToDictionary(code => code, code => valueOf(state, code), StringComparer.Ordinal);
            if (values.Values.Any(v => v is null))
            {
                excluded.Add(state);
                continue;
            }
            included.Add(state);
            numerator += ratio.NumeratorIndicatorCodes.Sum(code => values[code]!.Value);
            denominator += ratio.DenominatorIndicatorCodes.Sum(code => values[code]!.Value);
        }
        return new RatioResult(numerator, denominator, denominator > 0 ? numerator / denominator : null, included, excluded);
    }
}

/// <summary>A ratio of sums: its two sums, the ratio (null when the denominator is 0), and which States it covers.</summary>
public sealed record RatioResult(double Numerator, double Denominator, double? Value, IReadOnlyList<string> IncludedStates, IReadOnlyList<string> ExcludedStates);
