using MirpsExchange.Catalogue.Csv;

namespace MirpsExchange.UnitTests.Exports;

/// <summary>The OWASP quote before a text a spreadsheet would run, and its exact reversal.</summary>
public class SpreadsheetFormulaTests
{
    [Theory]
    [InlineData("=HYPERLINK(\"https://evil.example\",\"click\")", "'=HYPERLINK(\"https://evil.example\",\"click\")")]
    [InlineData("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0")]
    [InlineData("-1+1", "'-1+1")]
    [InlineData("@SUM(A1:A9)", "'@SUM(A1:A9)")]
    [InlineData("\tx", "'\tx")]
    [InlineData("\rx", "'\rx")]
    [InlineData("'quoted", "''quoted")]
    [InlineData("''", "'''")]
    [InlineData("'", "''")]
    [InlineData("=", "'=")]
    // Excel with the semicolon as list separator (decimal-comma locales) starts a new cell after each one.
    [InlineData("x;=HYPERLINK(\"https://evil.example\")", "x;'=HYPERLINK(\"https://evil.example\")")]
    [InlineData("=a;@b;c;-d", "'=a;'@b;c;'-d")]
    [InlineData("a;'b", "a;''b")]
    [InlineData(";", ";")]
    public void A_text_starting_with_a_trigger_or_a_quote_gets_one_quote_before_it(string text, string cell)
    {
        Assert.Equal(cell, SpreadsheetFormula.Neutralize(text));
        Assert.Equal(text, SpreadsheetFormula.Restore(cell));
    }

    [Theory]
    [InlineData("")]
    [InlineData("annual report")]
    [InlineData(" =not first")]
    [InlineData("a=b+c-d@e")]
    [InlineData("\nline")]
    [InlineData("240")]
    [InlineData("Panamá")]
    public void Any_other_text_is_written_as_it_is(string text)
    {
        Assert.Same(text, SpreadsheetFormula.Neutralize(text));
        Assert.Equal(text, SpreadsheetFormula.Restore(text));
    }

    [Theory]
    [InlineData("'plain")]
    [InlineData("'1")]
    [InlineData("' =")]
    public void A_quote_the_writer_cannot_have_put_there_is_kept_on_reading(string cell) =>
        Assert.Equal(cell, SpreadsheetFormula.Restore(cell));

    [Fact]
    public void Every_text_of_up_to_three_characters_from_the_interesting_ones_round_trips()
    {
        const string Alphabet = "=+-@\t\r'a \n;";
        var texts = new List<string> { "" };
        for (var length = 1; length <= 3; length++)
        {
            texts.AddRange(texts.Where(t => t.Length == length - 1).SelectMany(t => Alphabet.Select(c => t + c)).ToList());
        }

        Assert.All(texts, text =>
        {
            var cell = SpreadsheetFormula.Neutralize(text);
            Assert.Equal(text, SpreadsheetFormula.Restore(cell));
            // No cell a spreadsheet makes of it, split at semicolons or not, starts with a trigger.
            Assert.All(cell.Split(SpreadsheetFormula.LocaleSeparator), part =>
                Assert.False(part.Length > 0 && SpreadsheetFormula.Triggers.Contains(part[0]), $"'{cell}' holds a cell starting with a trigger"));
        });
    }
}
