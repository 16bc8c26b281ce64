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
    public sealed record Result(string Period, DateTimeOffset AsOf, IReadOnlyList<(Indicator Indicator, RegionalCell? Cell)> Indicators,
        List<ExportRow> Rows, GetProtectionRatesResponse? Rates, IReadOnlyList<PendingChanges> Pending);

    public StandardCatalogue Catalogue => catalogue;

    /// <summary>The additive indicators reported at <paramref name="period"/>'s granularity, in the catalogue's order.</summary>
    public IReadOnlyList<Indicator> IndicatorsOf(Period period) =>
        [.. catalogue.Catalog.Indicators.Where(i => i.Aggregation == AggregationRule.Sum && i.Granularities.Contains(period.Granularity))];

    public async Task<Result> LoadAsync(Period period, DateTimeOffset? asOf)
    {
        var client = new RegionalService.RegionalServiceClient(calls.Invoker);
        var options = await calls.OptionsAsync();
        var answers = new Dictionary<string, GetRegionalValueResponse>(StringComparer.Ordinal);
        var indicators = IndicatorsOf(period);
        var (rows, provenance) = await RegionalExport.RowsAsync(async (request, _) =>
            {
                var response = await client.GetRegionalValueAsync(request, options);
                answers[request.IndicatorCode] = response;
                return response;
            }, catalogue, indicators.Select(i => i.Code), [period.ToString()], Breakdown.Unspecified,
            asOf is { } time ? Timestamp.FromDateTimeOffset(time) : null, options.CancellationToken);
        var at = provenance.AsOfTime?.ToDateTimeOffset() ?? asOf ?? DateTimeOffset.UtcNow;
        GetProtectionRatesResponse? rates = null;
        try
        {
            rates = await client.GetProtectionRatesAsync(new GetProtectionRatesRequest { Period = period.ToString(), AsOfTime = Timestamp.FromDateTimeOffset(at) }, options);
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.InvalidArgument or StatusCode.FailedPrecondition)
        {
            rates = null; // decisions are not reported at this granularity
        }
        return new Result(period.ToString(), at,
            [.. indicators.Select(i => (i, answers.GetValueOrDefault(i.Code)?.Cells.FirstOrDefault()))], rows, rates,
            [.. answers.Values.SelectMany(a => a.PendingChanges).Concat(rates?.PendingChanges ?? []).DistinctBy(p => p.Country)]);
    }

    /// <summary>An "as of" from a query string: ISO 8601, UTC unless it names an offset; null when absent or unreadable.</summary>
    public static DateTimeOffset? ParseAsOf(string? text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time) ? time : null;

    /// <summary>An "as of" for a URL and the picker (UTC, to the second).</summary>
    public static string FormatAsOf(DateTimeOffset time) => time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
}
