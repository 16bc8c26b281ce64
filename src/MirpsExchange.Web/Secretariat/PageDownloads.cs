using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Exports;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Web.Components.Pages.Charts;

namespace MirpsExchange.Web.Secretariat;

/// <summary>
/// Downloads of what the completeness, charts and per-State charts pages show, beside the regional page's
/// (<see cref="RegionalDownloads"/>, whose zip writer they use): the same query string as the page, read again
/// with the person's token through the same calls the page makes, so a download never holds more than the page
/// may show. Each is a zip of the file and its <c>.provenance.json</c> (the time every figure was read as of and
/// the States' log heads). Only for the Secretariat's analysts, in the Secretariat's process.
/// </summary>
public static class PageDownloads
{
    public const string CompletenessPath = "/completeness/download";
    public const string ChartsPath = "/charts/download";

    /// <summary>The completeness table holds states, not figures: CSV and xlsx.</summary>
    public static readonly IReadOnlyList<(string Format, string Text)> CompletenessFormats = [("csv", "CSV"), ("xlsx", "Excel (xlsx)")];

    public static string CompletenessUrl(string format, string from, string to, DateTimeOffset asOf) =>
        $"{CompletenessPath}?format={format}&from={Uri.EscapeDataString(from)}&to={Uri.EscapeDataString(to)}&asOf={Uri.EscapeDataString(RegionalView.FormatAsOf(asOf))}";

    /// <summary>A chart page's download (<paramref name="country"/> for a State's drill-down), pinned to the as-of time the page read.</summary>
    public static string ChartsUrl(string format, string indicator, DateTimeOffset asOf, string? frequency, string? country = null) =>
        $"{ChartsPath}?format={format}&indicator={Uri.EscapeDataString(indicator)}&asOf={Uri.EscapeDataString(RegionalView.FormatAsOf(asOf))}"
        + (frequency is "A" or "Q" or "M" ? $"&freq={frequency}" : "") + (country is null ? "" : $"&country={Uri.EscapeDataString(country)}");

    /// <summary>The completeness request of a period range (one granularity) as of a time, or null when the range is not one.</summary>
    public static GetCompletenessRequest? CompletenessRequest(string from, string to, DateTimeOffset? asOf)
    {
        if (!Period.TryParse(from, out var first) || !Period.TryParse(to, out var last) || first.Granularity != last.Granularity)
        {
            return null;
        }
        var request = new GetCompletenessRequest { PeriodFrom = first.ToString(), PeriodTo = last.ToString(), Granularity = first.Granularity };
        if (asOf is { } time)
        {
            request.AsOfTime = Timestamp.FromDateTimeOffset(time);
        }
        return request;
    }

    public static IEndpointRouteBuilder MapPageDownloads(this IEndpointRouteBuilder app)
    {
        app.MapGet(CompletenessPath, CompletenessAsync).RequireAuthorization(WebPolicies.Secretariat);
        app.MapGet(ChartsPath, ChartsAsync).RequireAuthorization(WebPolicies.Secretariat);
        return app;
    }

    private static async Task<IResult> CompletenessAsync(HttpContext http, [Microsoft.AspNetCore.Mvc.FromServices] NodeCalls calls, [Microsoft.AspNetCore.Mvc.FromServices] CatalogueLabels labels, string? format, string? from, string? to, string? asOf)
    {
        if (format is not ("csv" or "xlsx") || RegionalView.ParseAsOf(asOf) is not { } time || CompletenessRequest(from ?? "", to ?? from ?? "", time) is not { } request)
        {
            return Results.BadRequest("format (csv or xlsx), from (a period), to (a period of the same granularity, or absent) and asOf are required");
        }
        var texts = Texts.Of(http);
        GetCompletenessResponse response;
        try
        {
            response = await new RegionalService.RegionalServiceClient(calls.Invoker).GetCompletenessAsync(request, await calls.OptionsAsync());
        }
        catch (RpcException e)
        {
            return Refused(e);
        }
        var provenance = new ExportProvenance { AsOfTime = response.AsOfTime };
        provenance.IndicatorCodes.Add(response.Cells.Select(c => c.IndicatorCode).Distinct());
        provenance.Periods.Add(response.Cells.Select(c => c.Period).Distinct());
        provenance.LogHeads.Add(response.LogHeads);
        provenance.PendingChanges.Add(response.PendingChanges);
        var rows = response.Cells.Select(c => (IReadOnlyList<string>)[c.IndicatorCode, labels.Indicator(texts, c.IndicatorCode), c.Period, c.Country, texts[StateKey(c.State)]]);
        var name = $"mirps-completeness-{request.PeriodFrom}-{request.PeriodTo}-{Stamp(response.AsOfTime.ToDateTimeOffset())}";
        return RegionalDownloads.Table(texts, format, name, texts["completeness.title"], CompletenessHeaders(texts), rows, provenance);
    }

    private static async Task<IResult> ChartsAsync(HttpContext http, [Microsoft.AspNetCore.Mvc.FromServices] NodeCalls calls, [Microsoft.AspNetCore.Mvc.FromServices] StandardCatalogue catalogue, string? format, string? indicator, string? asOf,
        string? freq, string? country)
    {
        var states = catalogue.Catalog.Codelists.First(c => c.Id == StandardCatalogue.ReportingCountryCodelist).Codes.Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        if (!RegionalDownloads.Formats.Any(f => f.Format == format) || catalogue.FindIndicator(indicator ?? "") is null || ChartPage.ParseAsOf(asOf) is not { } time
            || (country is not null && !states.Contains(country)))
        {
            return Results.BadRequest("format (csv, sdmx-csv or xlsx), indicator (a catalogue code) and asOf are required; country is a MIRPS State or absent");
        }
        var at = Timestamp.FromDateTimeOffset(time);
        try
        {
            var (rows, provenance) = await ChartRowsAsync(calls, catalogue, indicator!, at, freq, country);
            var name = $"mirps-charts-{indicator}{(country is null ? "" : "-" + country)}-{Stamp(time)}";
            var texts = Texts.Of(http);
            return RegionalDownloads.File(catalogue, texts, format!, name, rows, provenance, texts["charts.title"]);
        }
        catch (RpcException e)
        {
            return Refused(e);
        }
    }

    /// <summary>
    /// What a chart page shows, as rows: each State's figures of the frequency shown (a drill-down: the State's totals, by sex and, in the latest
    /// period, by age), then on the regional page the regional total of each period and the latest period's breakdowns as RegionalService computes
    /// them. A value withheld from this reader is written as none, with the status confidential.
    /// </summary>
    private static async Task<(List<ExportRow>, ExportProvenance)> ChartRowsAsync(NodeCalls calls, StandardCatalogue catalogue, string indicator, Timestamp asOf,
        string? freq, string? country)
    {
        var stored = await ChartPage.ObservationsAsync(calls, indicator, asOf, country, sexes: country is null ? null : [], ages: country is null ? null : []);
        var (shown, _, _) = ChartPage.OfFrequency([.. stored.Select(s => s.Observation)], freq);
        var shownSet = shown.ToHashSet();
        var total = (string code) => code is StandardCatalogue.TotalCode or "";
        var periods = shown.Where(o => total(o.Sex) && total(o.Age)).Select(o => o.Period).Distinct().Order(StringComparer.Ordinal).ToList();
        var latest = periods.LastOrDefault();
        var stateRows = stored.Where(s => shownSet.Contains(s.Observation) && (total(s.Observation.Age) || s.Observation.Period == latest && total(s.Observation.Sex)))
            .Select(ExportRow.Of)
            .ToList();

        var client = new RegionalService.RegionalServiceClient(calls.Invoker);
        var options = await calls.OptionsAsync();
        Task<GetRegionalValueResponse> Answer(GetRegionalValueRequest request, CancellationToken token) => client.GetRegionalValueAsync(request, options).ResponseAsync;
        if (country is not null || latest is null)
        {
            var (_, provenance) = await RegionalExport.RowsAsync(Answer, catalogue, [indicator], periods, Breakdown.Unspecified, asOf, options.CancellationToken);
            return (stateRows, provenance);
        }
        var (regional, chartProvenance) = await RegionalExport.ChartRowsAsync(Answer, catalogue, indicator, periods, asOf, options.CancellationToken);
        return ([.. stateRows, .. regional], chartProvenance);
    }

    private static IResult Refused(RpcException e) =>
        Results.Problem(e.Status.Detail, statusCode: e.StatusCode is StatusCode.PermissionDenied or StatusCode.Unauthenticated ? StatusCodes.Status403Forbidden : StatusCodes.Status502BadGateway);

    /// <summary>The completeness download's columns in <paramref name="texts"/>' language: code, indicator, period, State, its reporting state.</summary>
    public static IReadOnlyList<string> CompletenessHeaders(Texts texts) =>
        [texts["col.code"], texts["col.indicator"], texts["completeness.period"], texts["col.country"], texts["completeness.state"]];

    /// <summary>The text key of a cell's reporting state, as the completeness page and its download write it.</summary>
    public static string StateKey(ReportingState state) => state switch
    {
        ReportingState.Reported => "state.reported",
        ReportingState.Provisional => "state.provisional",
        _ => "state.missing",
    };

    private static string Stamp(DateTimeOffset time) => RegionalView.FormatAsOf(time).Replace(":", "", StringComparison.Ordinal) + "Z";
}
