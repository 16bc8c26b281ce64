using System.Globalization;

namespace MirpsExchange.Web.Components.Pages.State;

/// <summary>Numbers and times as the page's language writes them (Spanish as in Central America: 1,234.5; English alike).</summary>
public static class StateFormat
{
    private static readonly CultureInfo Spanish = CultureInfo.GetCultureInfo("es-MX");
    private static readonly CultureInfo English = CultureInfo.GetCultureInfo("en-US");

    public static CultureInfo Culture(Texts t) => t.IsEnglish ? English : Spanish;

    public static string Number(Texts t, double value) => value.ToString("#,0.##########", Culture(t));

    /// <summary>A UTC time to the second, ISO 8601 style (the same in both languages, unambiguous).</summary>
    public static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
}
