namespace MirpsExchange.Catalogue.Csv;

/// <summary>
/// Keeps a text cell of a CSV file from running as a formula when a spreadsheet opens the file (CSV
/// injection, CWE-1236). A State's note such as <c>=HYPERLINK("https://…","click")</c> would otherwise
/// become a live link or a command in the Secretariat's Excel. OWASP's remedy: a text that starts with
/// <c>=</c>, <c>+</c>, <c>-</c>, <c>@</c>, tab or carriage return is written with a single quote
/// before it, which spreadsheets read as "this cell is text". A text that already starts with a quote
/// gets one more, so reading back (<see cref="Restore"/>: drop one leading quote when the next
/// character is one of these six or a quote) gives exactly the original text, whatever it was.
/// <para>
/// Only text cells go through here: a number the writer formats (a value, negative or not) is a
/// number, and a quote would turn it into text.
/// </para>
/// </summary>
public static class SpreadsheetFormula
{
    /// <summary>The prefix spreadsheets take as "text follows".</summary>
    public const char TextPrefix = '\'';

    /// <summary>The characters that start a formula (or a DDE command) in Excel, LibreOffice or Google Sheets.</summary>
    public const string Triggers = "=+-@\t\r";

    /// <summary>The text as a cell no spreadsheet runs: with a leading quote when it starts with a trigger or a quote.</summary>
    public static string Neutralize(string text) =>
        text.Length > 0 && NeedsPrefix(text[0]) ? TextPrefix + text : text;

    /// <summary>The text <see cref="Neutralize"/> was given: one leading quote dropped when it stands before a trigger or a quote.</summary>
    public static string Restore(string cell) =>
        cell.Length > 1 && cell[0] == TextPrefix && NeedsPrefix(cell[1]) ? cell[1..] : cell;

    private static bool NeedsPrefix(char first) => first == TextPrefix || Triggers.Contains(first, StringComparison.Ordinal);
}
