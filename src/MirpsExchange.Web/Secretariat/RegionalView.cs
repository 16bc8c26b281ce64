using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Mirps.Catalog.V1;
using Mirps.Regional.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Exports;
using MirpsExchange.Catalogue.Periods;

namespace MirpsExchange.Web.Secretariat;

/// <summary>
/// The regional indicators of one period as the Secretariat's RegionalService answers them to the signed-in
/// person (over the loopback channel, with their token): every additive indicator reported at the period's
/// granularity, all as of one time (the one asked, else the first answer's), so the page, its downloads and
/// any later view with the same "as of" show the same figures. The export rows come from
/// <see cref="RegionalExport"/>, as <c>mirps regional export</c> writes them.
/// </summary>
public sealed class RegionalView(NodeCalls calls, StandardCatalogue catalogue)
{
    /// <param name="Pending">The States the figures read only up to an earlier head, a change of theirs pending (all answers are as of one time).</param>
    /// <param name="Provenance">What the rows were computed from (the signed heads, the lifecycle filter): written beside every download, as
    /// <c>mirps regional export</c> writes it, so <c>mirps regional verify</c> checks a download.</param>
    public sealed record Result(string Period, DateTimeOffset AsOf, IReadOnlyList<(Indicator Indicator, RegionalCell? Cell)> Indicators,
        List<ExportRow> Rows, GetProtectionRatesResponse? Rates, IReadOnlyList<PendingChanges> Pending, ExportProvenance Provenance, LifecycleFilter Lifecycle);

    public StandardCatalogue Catalogue => catalogue;

    /// <summary>The additive indicators reported at <paramref name="period"/>'s granularity, in the catalogue's order.</summary>
    public IReadOnlyList<Indicator> IndicatorsOf(Period period) =>
        [.. catalogue.Catalog.Indicators.Where(i => i.Aggregation == AggregationRule.Sum && i.Granularities.Contains(period.Granularity))];

    /// <summary>
    /// The regional table and the protection rates of <paramref name="period"/> as of <paramref name="asOf"/> (null: now), counting the States
    /// <paramref name="lifecycle"/> counts, with the export rows (the rates' rows last, when decisions are reported at the period's granularity)
    /// and their provenance.
    /// </summary>
    public async Task<Result> LoadAsync(Period period, DateTimeOffset? asOf, LifecycleFilter lifecycle = LifecycleFilter.Unspecified)
    {
        var client = new RegionalService.RegionalServiceClient(calls.Invoker);
        var options = await calls.OptionsAsync();
        var answers = new Dictionary<string, GetRegionalValueResponse>(StringComparer.Ordinal);
        GetProtectionRatesResponse? rates = null;
        var indicators = IndicatorsOf(period);
        var (rows, provenance) = await RegionalExport.RowsAsync(async (request, _) =>
            {
                var response = await client.GetRegionalValueAsync(request, options);
                answers[request.IndicatorCode] = response;
                return response;
            }, catalogue, indicators.Select(i => i.Code), [period.ToString()], Breakdown.Unspecified,
            asOf is { } time ? Timestamp.FromDateTimeOffset(time) : null, options.CancellationToken, lifecycle,
            async (request, _) => rates = await client.GetProtectionRatesAsync(request, options));
        var at = provenance.AsOfTime?.ToDateTimeOffset() ?? asOf ?? DateTimeOffset.UtcNow;
        return new Result(period.ToString(), at,
            [.. indicators.Select(i => (i, answers.GetValueOrDefault(i.Code)?.Cells.FirstOrDefault()))], rows, rates,
            [.. answers.Values.SelectMany(a => a.PendingChanges).Concat(rates?.PendingChanges ?? []).DistinctBy(p => p.Country)], provenance, lifecycle);
    }

    /// <summary>A lifecycle filter from a query string ("approved", "accepted"; anything else: every figure).</summary>
    public static LifecycleFilter ParseLifecycle(string? text) => text switch
    {
        "approved" => LifecycleFilter.Approved,
        "accepted" => LifecycleFilter.Accepted,
        _ => LifecycleFilter.Unspecified,
    };

    /// <summary>A lifecycle filter for a query string ("" for none).</summary>
    public static string FormatLifecycle(LifecycleFilter lifecycle) => lifecycle switch
    {
        LifecycleFilter.Approved => "approved",
        LifecycleFilter.Accepted => "accepted",
        _ => "",
    };

    /// <summary>An "as of" from a query string: ISO 8601, UTC unless it names an offset; null when absent or unreadable.</summary>
    public static DateTimeOffset? ParseAsOf(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time) ? time : null;

    /// <summary>An "as of" for a URL and the picker (UTC, to the second).</summary>
    public static string FormatAsOf(DateTimeOffset time) => time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
}
