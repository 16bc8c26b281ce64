namespace MirpsExchange.Web;

/// <summary>The Secretariat's chart pages' strings.</summary>
public sealed partial class Texts
{
    private static IEnumerable<KeyValuePair<string, (string Es, string En)>> ChartStrings() => new Dictionary<string, (string, string)>
    {
        ["charts.title"] = ("Gráficos regionales", "Regional charts"),
        ["charts.intro"] = ("Series temporales por Estado y apiladas, con el total regional, y desgloses del último periodo. Cada gráfico tiene al lado una tabla con las mismas cifras.",
            "Time series by State and stacked, with the regional total, and breakdowns of the latest period. Each chart has a table with the same figures beside it."),
        ["charts.indicator"] = ("Indicador", "Indicator"),
        ["charts.frequency"] = ("Frecuencia", "Frequency"),
        ["charts.frequency.A"] = ("Anual", "Annual"),
        ["charts.frequency.Q"] = ("Trimestral", "Quarterly"),
        ["charts.frequency.M"] = ("Mensual", "Monthly"),
        ["charts.asof"] = ("Según lo conocido el (UTC, vacío: ahora)", "As known at (UTC, empty: now)"),
        ["charts.show"] = ("Mostrar", "Show"),
        ["charts.asof.now"] = ("Cifras actuales.", "Current figures."),
        ["charts.asof.at"] = ("Cifras tal como se conocían el {0} UTC.", "Figures as known at {0} UTC."),
        ["charts.asof.bad"] = ("La fecha no es válida: se muestran las cifras actuales.", "The date is not valid: showing current figures."),
        ["charts.nodata"] = ("No hay datos de este indicador.", "There is no data for this indicator."),
        ["charts.bystate"] = ("{0} por Estado", "{0} by State"),
        ["charts.stacked"] = ("{0}: Estados apilados y total regional", "{0}: States stacked and the regional total"),
        ["charts.regional"] = ("Total regional", "Regional total"),
        ["charts.bysex"] = ("{0} por sexo, {1}", "{0} by sex, {1}"),
        ["charts.byage"] = ("{0} por edad, {1}", "{0} by age, {1}"),
        ["charts.byorigin"] = ("{0} por país de origen, {1}", "{0} by country of origin, {1}"),
        ["charts.value"] = ("Valor", "Value"),
        ["charts.period"] = ("Periodo", "Period"),
        ["charts.category"] = ("Categoría", "Category"),
        ["charts.chart"] = ("Gráfico: {0}. Las cifras están en la tabla siguiente.", "Chart: {0}. The figures are in the table that follows."),
        ["charts.drill"] = ("Detalle por Estado", "Detail by State"),
        ["charts.drill.title"] = ("{0}: detalle", "{0}: detail"),
        ["charts.drill.bysex"] = ("{0} de {1} por sexo", "{0} of {1} by sex"),
        ["charts.drill.byage"] = ("{0} de {1} por edad, {2}", "{0} of {1} by age, {2}"),
        ["charts.back"] = ("Volver a los gráficos regionales", "Back to the regional charts"),
    };
}
