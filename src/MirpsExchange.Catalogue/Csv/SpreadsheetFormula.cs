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
/// Excel in a locale with a decimal comma (es-CR, for one) opens a .csv with the semicolon as list
/// separator, so a note <c>x;=HYPERLINK(…)</c> would split into a second cell that starts with the
/// formula: the same rule applies after every semicolon, as at the start.
/// </para>
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

    /// <summary>Where a spreadsheet may start a cell inside a text: after the list separator of decimal-comma locales.</summary>
    public const char LocaleSeparator = ';';

    /// <summary>
    /// The text as a cell no spreadsheet runs: a quote before a trigger or a quote that starts the text or
    /// follows a semicolon. The text itself when nothing needs one (no copy).
    /// </summary>
    public static string Neutralize(string text)
    {
        if (!Enumerable.Range(0, text.Length).Any(i => StartsCell(text, i) && NeedsPrefix(text[i])))
        {
            return text;
        }
        var cell = new System.Text.StringBuilder(text.Length + 4);
        for (var i = 0; i < text.Length; i++)
        {
            if (StartsCell(text, i) && NeedsPrefix(text[i]))
            {
                cell.Append(TextPrefix);
            }
            cell.Append(text[i]);
        }
        return cell.ToString();
    }

    /// <summary>
    /// The text <see cref="Neutralize"/> was given: a quote that starts the cell or follows a semicolon is
    /// dropped when it stands before a trigger or a quote.
    /// </summary>
    public static string Restore(string cell)
    {
        if (!Enumerable.Range(0, cell.Length).Any(i => Added(cell, i)))
        {
            return cell;
        }
        var text = new System.Text.StringBuilder(cell.Length);
        for (var i = 0; i < cell.Length; i++)
        {
            if (!Added(cell, i))
            {
                text.Append(cell[i]);
            }
        }
        return text.ToString();
    }

    /// <summary>
    /// Whether <paramref name="cell"/> is as <see cref="Neutralize"/> writes a text (every trigger that starts a cell carries its quote), or a
    /// number, which the writer writes as it is. A file whose quote was removed from a formula reads back the same text but runs it when
    /// opened: a reader that vouches for the file (`regional verify`) refuses it.
    /// </summary>
    public static bool IsWrittenForm(string cell) =>
        Neutralize(Restore(cell)) == cell
        || double.TryParse(cell, System.Globalization.NumberStyles.AllowLeadingSign | System.Globalization.NumberStyles.AllowDecimalPoint | System.Globalization.NumberStyles.AllowExponent,
            System.Globalization.CultureInfo.InvariantCulture, out _);

    private static bool StartsCell(string text, int i) => i == 0 || text[i - 1] == LocaleSeparator;

    private static bool Added(string cell, int i) => StartsCell(cell, i) && cell[i] == TextPrefix && i + 1 < cell.Length && NeedsPrefix(cell[i + 1]);

    private static bool NeedsPrefix(char first) => first == TextPrefix || Triggers.Contains(first, StringComparison.Ordinal);
}
