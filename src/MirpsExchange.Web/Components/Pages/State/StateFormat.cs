using System.Globalization;

namespace MirpsExchange.Web.Components.Pages.State;

/// <summary>
/// Numbers and times on a State's pages, the same in both languages (processes run with invariant globalization):
/// thousands with a comma and decimals with a point, as in Mexico and Central America's statistics; UTC times ISO 8601 style.
/// </summary>
public static class StateFormat
{
    public static string Number(Texts t, double value) => value.ToString("#,0.##########", CultureInfo.InvariantCulture);

    /// <summary>A UTC time to the second, ISO 8601 style (unambiguous in both languages).</summary>
    public static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
}
