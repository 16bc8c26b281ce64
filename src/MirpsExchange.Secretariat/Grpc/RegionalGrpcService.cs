using Grpc.Core;
using Mirps.Auth;
using Mirps.Regional.V1;
using MirpsExchange.Secretariat.Regional;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Secretariat.Grpc;

/// <summary>
/// The Secretariat's regional indicators (mirps.regional.v1). Regional figures are shared with the
/// whole federation: the Secretariat and every State may read them with the read scope; they hold only
/// sums over States, and which States reported, never one State's figure beyond what it shared.
/// </summary>
public sealed partial class RegionalGrpcService(
    RegionalRequests requests,
    RegionalIndicators indicators,
    MirpsExchange.Node.Rules.StoredRuleCells rules,
    MirpsExchange.Node.Store.CatalogueVersions catalogues,
    ReportingCalendar calendar,
    ILogger<RegionalGrpcService> logger) : RegionalService.RegionalServiceBase
{
    public override async Task<GetRegionalValueResponse> GetRegionalValue(GetRegionalValueRequest request, ServerCallContext context)
    {
        RequireRegionalReader(context);
        var (indicator, period, breakdown) = requests.AdditiveQuery(request.IndicatorCode, request.Period, request.Breakdown, request.AsOfTime, request.Lifecycle);
        var response = await indicators.GetValueAsync(indicator, period, breakdown, request.AsOfTime, context.CancellationToken, request.Lifecycle);
        response.ReportingCatalogs.Add(ReportingCatalogs(response.LogHeads, request.AsOfTime));
        LogComputed(logger, nameof(GetRegionalValue), indicator.Indicator.Code, response.Period, response.Cells.Count);
        return response;
    }

    public override async Task<GetProtectionRatesResponse> GetProtectionRates(GetProtectionRatesRequest request, ServerCallContext context)
    {
        RequireRegionalReader(context);
        var period = requests.RatesQuery(request);
        var response = await indicators.GetRatesAsync(requests.Catalogue, period, request.AsOfTime, context.CancellationToken, request.Lifecycle);
        response.ReportingCatalogs.Add(ReportingCatalogs(response.LogHeads, request.AsOfTime));
        return response;
    }

    public override async Task<GetRegionalChangeResponse> GetRegionalChange(GetRegionalChangeRequest request, ServerCallContext context)
    {
        RequireRegionalReader(context);
        var (indicator, period, breakdown) = requests.AdditiveQuery(request.IndicatorCode, request.Period, request.Breakdown, request.AsOfTime, request.Lifecycle);
        var response = await indicators.GetChangeAsync(indicator, period, breakdown, request.AsOfTime, context.CancellationToken, request.Lifecycle);
        response.ReportingCatalogs.Add(ReportingCatalogs(response.LogHeads, request.AsOfTime));
        LogComputed(logger, nameof(GetRegionalChange), indicator.Indicator.Code, response.Period, response.Changes.Count);
        return response;
    }

    /// <summary>The catalogue version each State the figures read reported in (one per State of <paramref name="heads"/>) as of <paramref name="asOf"/>, while States upgrade on different days.</summary>
    private IEnumerable<ReportingCatalog> ReportingCatalogs(IEnumerable<Mirps.Observation.V1.LogHead> heads, Google.Protobuf.WellKnownTypes.Timestamp? asOf) =>
        heads.Select(h => h.Origin).Distinct().Order(StringComparer.Ordinal)
            .Select(origin => new ReportingCatalog { Country = origin, CatalogVersion = catalogues.VersionOf(origin, asOf) });

    public override Task<GetReportingCalendarResponse> GetReportingCalendar(GetReportingCalendarRequest request, ServerCallContext context)
    {
        RequireRegionalReader(context);
        return Task.FromResult(new GetReportingCalendarResponse { Rules = { calendar.Rules } });
    }

    public override async Task<GetTimelinessResponse> GetTimeliness(GetTimelinessRequest request, ServerCallContext context)
    {
        RequireRegionalReader(context);
        var (countries, groups, from, to) = requests.TimelinessQuery(request, calendar);
        return await indicators.GetTimelinessAsync(countries, groups, from, to, request.AsOfTime, context.CancellationToken);
    }

    public override async Task<GetCompletenessResponse> GetCompleteness(GetCompletenessRequest request, ServerCallContext context)
    {
        RequireRegionalReader(context);
        var (codes, periods) = requests.CompletenessQuery(request);
        return await indicators.GetCompletenessAsync(codes, periods, request.AsOfTime, context.CancellationToken);
    }

    public override async Task<GetValidationReportResponse> GetValidationReport(GetValidationReportRequest request, ServerCallContext context)
    {
        RequireRegionalReader(context);
        var (countries, from, to) = requests.ValidationReportQuery(request);
        var response = await indicators.GetValidationReportAsync(rules, countries, from, to, context.CancellationToken);
        LogComputed(logger, nameof(GetValidationReport), "", $"{from}..{to}", response.Results.Count);
        return response;
    }

    /// <summary>
    /// The read scope and the Secretariat's credential. The sums run over every State's complete data,
    /// including what a State's policy keeps for the Secretariat only (a cell with one contributor would
    /// give its value away), so States read regional figures from what the Secretariat publishes (exports).
    /// </summary>
    private static void RequireRegionalReader(ServerCallContext context)
    {
        context.RequireScope(MirpsAuth.ReadScope);
        if (context.Caller().FindFirst(MirpsAuth.RoleClaim)?.Value != MirpsAuth.SecretariatRole)
        {
            throw CallerPermissions.Denied("ROLE_NOT_ALLOWED",
                "regional figures are computed over data some States share with the Secretariat only: they are read with the Secretariat's credential");
        }
    }

    [LoggerMessage(EventName = "RegionalFiguresComputed", Level = LogLevel.Debug, Message = "{Call} {Indicator} {Period}: {Cells} cells")]
    private static partial void LogComputed(ILogger logger, string call, string indicator, string period, int cells);
}
