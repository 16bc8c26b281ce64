using Mirps.Log;
using Mirps.Observation.V1;
using MirpsExchange.Node.Sharing;

namespace MirpsExchange.Node.Store;

/// <summary>
/// One key to write: a value to store, or (with <see cref="Value"/> null) a deletion, under the sharing
/// policy the change carries. <see cref="ValueWithheld"/>: a replica's copy of a small count it may not read.
/// <see cref="Added"/>: catalogue 2.0's dimensions, as the validator normalised them (the default for a declared one sent empty).
/// </summary>
public readonly record struct WriteRow(
    string IndicatorCode, string Country, string Period, string Sex, string Age, string CountryOfOrigin, AddedDimensions Added,
    DateOnly PeriodStart, DateOnly PeriodEnd, double? Value, ObservationStatus Status, string Note, ValueAttributes Attributes,
    RowPolicy Policy, bool ValueWithheld = false)
{
    /// <summary>By natural key: the order that walks the unique index in order (several times faster than random order).</summary>
    public static int CompareKeys(in WriteRow x, in WriteRow y)
    {
        var c = CompareKeys([x.IndicatorCode, x.Country, x.Period, x.Sex, x.Age, x.CountryOfOrigin], [y.IndicatorCode, y.Country, y.Period, y.Sex, y.Age, y.CountryOfOrigin]);
        return c != 0 ? c : x.Added.CompareTo(y.Added);
    }

    /// <summary>Natural keys (indicator, country, period, sex, age, origin, then catalogue 2.0's dimensions) in the unique index's order.</summary>
    public static int CompareKeys(ReadOnlySpan<string> x, ReadOnlySpan<string> y)
    {
        for (var i = 0; i < x.Length; i++)
        {
            var c = string.CompareOrdinal(x[i], y[i]);
            if (c != 0)
            {
                return c;
            }
        }
        return 0;
    }
}
