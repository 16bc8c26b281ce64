using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Playwright;
using Mirps.Identity.V1;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using MirpsExchange.FunctionalTests.Infrastructure;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The Secretariat's charts in real Chromium: each chart's figures (the ECharts options the server serialized, and the
/// table beside it) are RegionalService's and the stored observations', as of any earlier time; axe finds no violation.
/// </summary>
public class ChartsWebTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    private static readonly DateTimeOffset January = new(2024, 1, 15, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset March = new(2024, 3, 15, 0, 0, 0, TimeSpan.Zero);

    private static Observation Obs(string country, string period, double value, string sex = "_T", string age = "_T", string origin = "_T") => new()
    {
        IndicatorCode = "REFUGEES", Country = country, Period = period, Sex = sex, Age = age, CountryOfOrigin = origin, Value = value, Status = ObservationStatus.Normal,
    };

    [Fact]
    public async Task The_Secretariat_charts_draw_each_State_stacked_and_the_regional_total_as_RegionalService_computes_it_with_breakdowns_a_drill_down_and_as_of()
    {
        var identity = await SharedIdentity.GetAsync();
        var port = WebApp.FreePort();
        var clientId = await WebApp.RegisterClientAsync(identity, $"http://127.0.0.1:{port}");
        await using var secretariat = await TestSecretariat.StartAsync($"--Node:HttpPort={port}", $"--Web:ClientId={clientId}");
        await secretariat.ReplicateAsync(January,
        [
            Obs("CRI", "2022", 100), Obs("CRI", "2023", 150), Obs("PAN", "2022", 50), Obs("PAN", "2023", 70),
            Obs("CRI", "2023", 80, sex: "F"), Obs("CRI", "2023", 70, sex: "M"), Obs("CRI", "2022", 60, sex: "F"), Obs("CRI", "2022", 40, sex: "M"),
            Obs("CRI", "2023", 30, age: "Y0T4"), Obs("CRI", "2023", 120, age: "Y18T59"),
            Obs("CRI", "2023", 100, origin: "NIC"), Obs("CRI", "2023", 50, origin: "VEN"),
            Obs("CRI", "2023-Q1", 140), Obs("CRI", "2023-Q2", 145),
        ]);
        // Costa Rica revises 2023 in March: as of February the charts show the January figures.
        await secretariat.ReplicateAsync(March, [Obs("CRI", "2023", 200)]);
        var analyst = await WebApp.ReadyAccountAsync(identity, clientId, "sec.charts", AccountKind.Analyst);

        await using var context = await browser.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await WebApp.SignInAsync(page, $"{secretariat.HttpAddress}/charts", analyst);
        Assert.Equal("Gráficos regionales", await page.InnerTextAsync("h1"));
        Assert.Contains("Gráficos", await page.InnerTextAsync("nav.menu"), StringComparison.Ordinal);
        await page.WaitForSelectorAsync("#stacked .chart[data-chart-drawn] svg");

        // By State and stacked: each State's figures, and the regional total of each period exactly as RegionalService gives it.
        var byState = await OptionsAsync(page, "by-state");
        Assert.Equal(["2022", "2023"], byState.GetProperty("xAxis").GetProperty("data").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(Values(100.0, 200.0), Series(byState, "Costa Rica"));
        Assert.Equal(Values(50.0, 70.0), Series(byState, "Panamá"));
        var stacked = await OptionsAsync(page, "stacked");
        var regional = new List<double?>();
        foreach (var period in new[] { "2022", "2023" })
        {
            regional.Add((await secretariat.Regional.GetRegionalValueAsync(new GetRegionalValueRequest { IndicatorCode = "REFUGEES", Period = period })).Cells[0].Value);
        }
        Assert.Equal(Values(150.0, 270.0), regional);
        Assert.Equal(regional, Series(stacked, "Total regional"));
        Assert.Equal("states", stacked.GetProperty("series").EnumerateArray().First(s => s.GetProperty("name").GetString() == "Costa Rica").GetProperty("stack").GetString());
        // The table beside the chart lists the same figures.
        Assert.Contains("270", await page.InnerTextAsync("#stacked table"), StringComparison.Ordinal);
        // One frequency per chart (years by default, Costa Rica's quarters one choice away), never years and quarters on one axis.
        Assert.Equal(["A", "Q"], await page.Locator("select#freq option").EvaluateAllAsync<string[]>("options => options.map(o => o.value)"));
        await page.GotoAsync($"{secretariat.HttpAddress}/charts?indicator=REFUGEES&freq=Q");
        await page.WaitForSelectorAsync("#stacked .chart[data-chart-drawn] svg");
        var quarters = await OptionsAsync(page, "by-state");
        Assert.Equal(["2023-Q1", "2023-Q2"], quarters.GetProperty("xAxis").GetProperty("data").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(Values(140.0, 145.0), Series(quarters, "Costa Rica"));
        Assert.Equal("Q", await page.InputValueAsync("select#freq"));
        Assert.Contains("freq=Q", await page.GetAttributeAsync("nav.drill a", "href") ?? "", StringComparison.Ordinal);
        await page.GotoAsync($"{secretariat.HttpAddress}/charts");
        await page.WaitForSelectorAsync("#stacked .chart[data-chart-drawn] svg");

        // Breakdowns of the latest period: RegionalService's cells.
        var sex = await secretariat.Regional.GetRegionalValueAsync(new GetRegionalValueRequest { IndicatorCode = "REFUGEES", Period = "2023", Breakdown = Breakdown.Sex });
        Assert.Equal(sex.Cells.Where(c => c.Sex != "_T").Select(c => (double?)c.Value), Series(await OptionsAsync(page, "by-sex"), "Valor"));
        var origin = await secretariat.Regional.GetRegionalValueAsync(new GetRegionalValueRequest { IndicatorCode = "REFUGEES", Period = "2023", Breakdown = Breakdown.CountryOfOrigin });
        Assert.Equal(origin.Cells.Where(c => c.CountryOfOrigin != "_T").Select(c => (double?)c.Value).OrderDescending(), Series(await OptionsAsync(page, "by-origin"), "Valor"));
        Assert.Equal(1, await page.Locator("#by-age").CountAsync());
        await WebApp.AssertAccessibleAsync(page, "secretariat-charts-es");

        // As of February: Costa Rica's January figure and RegionalService's total as of then.
        var february = new DateTimeOffset(2024, 2, 1, 0, 0, 0, TimeSpan.Zero);
        await page.GotoAsync($"{secretariat.HttpAddress}/charts?indicator=REFUGEES&asOf=2024-02-01T00:00");
        Assert.Contains("2024-02-01 00:00", await page.InnerTextAsync("#as-of"), StringComparison.Ordinal);
        var earlier = await OptionsAsync(page, "stacked");
        Assert.Equal(Values(100.0, 150.0), Series(earlier, "Costa Rica"));
        var earlierTotal = (await secretariat.Regional.GetRegionalValueAsync(new GetRegionalValueRequest
        {
            IndicatorCode = "REFUGEES", Period = "2023", AsOfTime = Timestamp.FromDateTimeOffset(february),
        })).Cells[0].Value;
        Assert.Equal(220.0, earlierTotal);
        Assert.Equal(earlierTotal, Series(earlier, "Total regional")[1]);

        // The drill-down into one State keeps the view (indicator and as-of time): Costa Rica by sex, then by age.
        await Task.WhenAll(page.WaitForURLAsync(u => u.Contains("/charts/state/CRI", StringComparison.Ordinal)), page.ClickAsync("nav.drill >> text=Costa Rica"));
        Assert.Contains("asOf=2024-02-01", page.Url, StringComparison.Ordinal);
        var drill = await OptionsAsync(page, "state-by-sex");
        Assert.Equal(Values(60.0, 80.0), Series(drill, "Femenino"));
        Assert.Equal(Values(100.0, 150.0), drill.GetProperty("series").EnumerateArray().Last().GetProperty("data").EnumerateArray().Select(e => (double?)e.GetDouble()));
        await page.WaitForSelectorAsync("#state-by-sex .chart[data-chart-drawn] svg");
        await WebApp.AssertAccessibleAsync(page, "secretariat-charts-state-es");

        await page.ClickAsync("a.language");
        Assert.Equal("Costa Rica: detail", await page.InnerTextAsync("h1"));
        await WebApp.AssertAccessibleAsync(page, "secretariat-charts-state-en");

        // A State's person may sign in at the Secretariat (a token for its audience), but its charts are the Secretariat's own:
        // refused, overview and drill-down alike.
        var state = await WebApp.ReadyAccountAsync(identity, clientId, "ana.pan.charts", AccountKind.Analyst, "PAN");
        await using var stateContext = await browser.Browser.NewContextAsync();
        var statePage = await stateContext.NewPageAsync();
        await WebApp.SignInAsync(statePage, $"{secretariat.HttpAddress}/charts", state);
        Assert.Contains("/denied", statePage.Url, StringComparison.Ordinal);
        await statePage.GotoAsync($"{secretariat.HttpAddress}/charts/state/CRI");
        Assert.Contains("/denied", statePage.Url, StringComparison.Ordinal);
        Assert.Equal(0, await statePage.Locator("div.chart").CountAsync());
    }

    private static double?[] Values(params double[] values) => [.. values.Select(v => (double?)v)];

    /// <summary>The ECharts options the server serialized for the chart <paramref name="id"/>.</summary>
    private static async Task<JsonElement> OptionsAsync(IPage page, string id) =>
        JsonDocument.Parse((await page.GetAttributeAsync($"#{id} .chart", "data-options"))!).RootElement;

    private static List<double?> Series(JsonElement options, string name) =>
        [.. options.GetProperty("series").EnumerateArray().Single(s => s.GetProperty("name").GetString() == name)
            .GetProperty("data").EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Null ? (double?)null : e.GetDouble())];
}
