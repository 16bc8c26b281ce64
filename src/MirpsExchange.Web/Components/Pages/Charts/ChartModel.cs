using System.Text.Json;
using System.Text.Json.Serialization;

namespace MirpsExchange.Web.Components.Pages.Charts;

public enum ChartKind
{
    /// <summary>One line per series over the categories (periods).</summary>
    Lines,
    /// <summary>Stacked bars for the series marked stacked, lines for the others (a total beside its parts).</summary>
    StackedBars,
    /// <summary>One bar per category (a breakdown).</summary>
    Bars,
}

/// <summary>A series: its name and one value per category (null where there is none).</summary>
public sealed record ChartSeries(string Name, IReadOnlyList<double?> Values, bool Stacked = true);

/// <summary>
/// One chart's figures, drawn twice from the same numbers: as Apache ECharts options (serialized here, drawn by
/// charts.js) and as the table beside it, the accessible alternative.
/// </summary>
public sealed record ChartModel(string Id, string Title, string CategoryHeader, IReadOnlyList<string> Categories, IReadOnlyList<ChartSeries> Series, ChartKind Kind)
{
    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>The ECharts options (JSON): categories on the x axis, a series per <see cref="Series"/>, no animation.</summary>
    public string Options() => JsonSerializer.Serialize(new
    {
        animation = false,
        tooltip = new { trigger = "axis" },
        legend = Kind == ChartKind.Bars ? null : new { type = "scroll", top = 0 },
        grid = new { left = 16, right = 16, top = 48, bottom = 16, containLabel = true },
        xAxis = new { type = "category", data = Categories, axisLabel = new { interval = 0, rotate = Categories.Count > 8 ? 30 : 0 } },
        yAxis = new { type = "value" },
        series = Series.Select(s => new
        {
            name = s.Name,
            type = Kind == ChartKind.Lines || (Kind == ChartKind.StackedBars && !s.Stacked) ? "line" : "bar",
            stack = Kind == ChartKind.StackedBars && s.Stacked ? "states" : null,
            data = s.Values,
        }),
    }, Json);
}
