using Mirps.Catalog.V1;
using MirpsExchange.Catalogue.Periods;

namespace MirpsExchange.UnitTests;

/// <summary>ISO 8601 reference periods: the canonical forms only, with the days they cover.</summary>
public class PeriodTests
{
    private static Period Parsed(string text)
    {
        Assert.True(Period.TryParse(text, out var period), $"'{text}' should parse");
        return period;
    }

    [Fact]
    public void A_year_covers_the_calendar_year()
    {
        var period = Parsed("2023");

        Assert.Equal(new Period(PeriodGranularity.Year, 2023, 0), period);
        Assert.Equal(new DateOnly(2023, 1, 1), period.Start);
        Assert.Equal(new DateOnly(2023, 12, 31), period.End);
    }

    [Theory]
    [InlineData("2023-Q1", 1, "2023-01-01", "2023-03-31")]
    [InlineData("2023-Q2", 2, "2023-04-01", "2023-06-30")]
    [InlineData("2023-Q3", 3, "2023-07-01", "2023-09-30")]
    [InlineData("2023-Q4", 4, "2023-10-01", "2023-12-31")]
    public void A_quarter_covers_its_three_months(string text, int quarter, string start, string end)
    {
        var period = Parsed(text);

        Assert.Equal(PeriodGranularity.Quarter, period.Granularity);
        Assert.Equal(2023, period.Year);
        Assert.Equal(quarter, period.Number);
        Assert.Equal(DateOnly.Parse(start), period.Start);
        Assert.Equal(DateOnly.Parse(end), period.End);
    }

    [Theory]
    [InlineData("2023-01", 1, "2023-01-31")]
    [InlineData("2023-02", 2, "2023-02-28")]
    [InlineData("2023-03", 3, "2023-03-31")]
    [InlineData("2023-04", 4, "2023-04-30")]
    [InlineData("2023-05", 5, "2023-05-31")]
    [InlineData("2023-06", 6, "2023-06-30")]
    [InlineData("2023-07", 7, "2023-07-31")]
    [InlineData("2023-08", 8, "2023-08-31")]
    [InlineData("2023-09", 9, "2023-09-30")]
    [InlineData("2023-10", 10, "2023-10-31")]
    [InlineData("2023-11", 11, "2023-11-30")]
    [InlineData("2023-12", 12, "2023-12-31")]
    public void A_month_covers_its_days(string text, int month, string end)
    {
        var period = Parsed(text);

        Assert.Equal(PeriodGranularity.Month, period.Granularity);
        Assert.Equal(2023, period.Year);
        Assert.Equal(month, period.Number);
        Assert.Equal(new DateOnly(2023, month, 1), period.Start);
        Assert.Equal(DateOnly.Parse(end), period.End);
    }

    [Fact]
    public void February_of_a_leap_year_ends_on_the_29th()
    {
        Assert.Equal(new DateOnly(2024, 2, 29), Parsed("2024-02").End);
        Assert.Equal(new DateOnly(2024, 3, 31), Parsed("2024-Q1").End);
    }

    [Theory]
    [InlineData("")]
    [InlineData("23")]
    [InlineData("2023-13")]
    [InlineData("2023-00")]
    [InlineData("2023-Q0")]
    [InlineData("2023-Q5")]
    [InlineData("2023-q1")]
    [InlineData("2023Q1")]
    [InlineData("2023-1")]
    [InlineData(" 2023")]
    [InlineData("2023 ")]
    [InlineData("abcd")]
    [InlineData("2023-W01")]
    [InlineData("2023-01-01")]
    [InlineData("2023/01")]
    [InlineData("+2023")]
    [InlineData("20231")]
    public void Anything_but_a_canonical_year_quarter_or_month_is_refused(string text)
    {
        Assert.False(Period.TryParse(text, out var period));
        Assert.Equal(default, period);
        Assert.Throws<FormatException>(() => Period.Parse(text));
    }

    [Theory]
    [InlineData("2023")]
    [InlineData("2023-Q1")]
    [InlineData("2023-Q4")]
    [InlineData("2023-01")]
    [InlineData("2023-12")]
    [InlineData("1999-07")]
    public void ToString_gives_back_the_text_parsed(string text)
    {
        var period = Parsed(text);

        Assert.Equal(text, period.ToString());
        Assert.Equal(period, Period.Parse(period.ToString()));
    }

    [Theory]
    [InlineData("2023-Q1", "2022-Q4")]
    [InlineData("2023-Q3", "2023-Q2")]
    [InlineData("2023-01", "2022-12")]
    [InlineData("2023-07", "2023-06")]
    [InlineData("2023", "2022")]
    public void Previous_is_the_period_just_before_of_the_same_granularity(string text, string previous)
    {
        var period = Parsed(text);

        Assert.Equal(previous, period.Previous().ToString());
        Assert.Equal(period.Start.AddDays(-1), period.Previous().End);
    }
}
