using System.Globalization;
using Mirps.Catalog.V1;

namespace MirpsExchange.Catalogue.Periods;

/// <summary>
/// An ISO 8601 reference period as observations write it: a year "2023", a quarter "2023-Q1" or a
/// month "2023-01". <see cref="Start"/> and <see cref="End"/> are the first and last days it covers.
/// </summary>
public readonly record struct Period(PeriodGranularity Granularity, int Year, int Number)
{
    public const string Format = "a year (2023), a quarter (2023-Q1) or a month (2023-01)";

    public DateOnly Start => Granularity switch
    {
        PeriodGranularity.Year => new DateOnly(Year, 1, 1),
        PeriodGranularity.Quarter => new DateOnly(Year, (Number - 1) * 3 + 1, 1),
        PeriodGranularity.Month => new DateOnly(Year, Number, 1),
        _ => throw new InvalidOperationException("Unspecified period."),
    };

    public DateOnly End => Granularity switch
    {
        PeriodGranularity.Year => new DateOnly(Year, 12, 31),
        PeriodGranularity.Quarter => Start.AddMonths(3).AddDays(-1),
        PeriodGranularity.Month => Start.AddMonths(1).AddDays(-1),
        _ => throw new InvalidOperationException("Unspecified period."),
    };

    /// <summary>The period that comes before this one, of the same granularity.</summary>
    public Period Previous() => Granularity switch
    {
        PeriodGranularity.Year => this with { Year = Year - 1 },
        PeriodGranularity.Quarter => Number == 1 ? new(Granularity, Year - 1, 4) : this with { Number = Number - 1 },
        PeriodGranularity.Month => Number == 1 ? new(Granularity, Year - 1, 12) : this with { Number = Number - 1 },
        _ => throw new InvalidOperationException("Unspecified period."),
    };

    public override string ToString() => Granularity switch
    {
        PeriodGranularity.Year => Year.ToString("D4", CultureInfo.InvariantCulture),
        PeriodGranularity.Quarter => $"{Year:D4}-Q{Number}",
        PeriodGranularity.Month => $"{Year:D4}-{Number:D2}",
        _ => "",
    };

    /// <summary>Parses the exact canonical forms only; anything else (" 2023", "2023-1", "2023Q1") is refused.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out Period period)
    {
        period = default;
        if (text.Length < 4 || !TryDigits(text[..4], out var year) || year < 1900 || year > 2999)
        {
            return false;
        }
        if (text.Length == 4)
        {
            period = new Period(PeriodGranularity.Year, year, 0);
            return true;
        }
        if (text.Length == 7 && text[4] == '-')
        {
            if (text[5] == 'Q' && text[6] is >= '1' and <= '4')
            {
                period = new Period(PeriodGranularity.Quarter, year, text[6] - '0');
                return true;
            }
            if (TryDigits(text[5..7], out var month) && month is >= 1 and <= 12)
            {
                period = new Period(PeriodGranularity.Month, year, month);
                return true;
            }
        }
        return false;
    }

    public static Period Parse(string text) =>
        TryParse(text, out var period) ? period : throw new FormatException($"'{text}' is not {Format}.");

    private static bool TryDigits(ReadOnlySpan<char> text, out int value)
    {
        value = 0;
        foreach (var c in text)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
            value = value * 10 + (c - '0');
        }
        return true;
    }
}
