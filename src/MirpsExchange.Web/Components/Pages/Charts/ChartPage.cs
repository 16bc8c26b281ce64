using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Components;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;

namespace MirpsExchange.Web.Components.Pages.Charts;

/// <summary>
/// A Secretariat chart page: the indicator and the as-of time come from the query string (so any view can be linked
/// and reproduced later), the figures from this process's ObservationService and RegionalService with the person's
/// token, the labels from the catalogue.
/// </summary>
public abstract class ChartPage : WebPage
{
    private static readonly string[] AsOfFormats = ["yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd"];

    [Inject] protected NodeCalls Calls { get; set; } = default!;

    [Inject] protected StandardCatalogue Catalogue { get; set; } = default!;

    [Inject] protected CatalogueLabels Labels { get; set; } = default!;

    [SupplyParameterFromQuery(Name = "indicator")] protected string? IndicatorParameter { get; set; }

    [SupplyParameterFromQuery(Name = "asOf")] protected string? AsOfParameter { get; set; }

    /// <summary>The frequency asked for, as SDMX's FREQ codes it: A (years), Q (quarters), M (months); else the coarsest held.</summary>
    [SupplyParameterFromQuery(Name = "freq")] protected string? FrequencyParameter { get; set; }

    /// <summary>The frequency shown (<see cref="OfFrequency"/>): one granularity per chart, never years and months on one axis.</summary>
    protected Mirps.Catalog.V1.PeriodGranularity Frequency { get; private set; } = Mirps.Catalog.V1.PeriodGranularity.Year;

    /// <summary>The frequencies the indicator's figures hold, coarsest first (the form offers them).</summary>
    protected IReadOnlyList<Mirps.Catalog.V1.PeriodGranularity> Frequencies { get; private set; } = [];

    protected string? Error { get; set; }

    protected string Indicator => Catalogue.Catalog.Indicators.Any(i => i.Code == IndicatorParameter) ? IndicatorParameter! : Catalogue.Catalog.Indicators[0].Code;

    /// <summary>The as-of time asked for (UTC), or null: now (also when the text is not a date: <see cref="AsOfInvalid"/>).</summary>
    protected DateTimeOffset? AsOf => DateTime.TryParseExact(AsOfParameter, AsOfFormats, System.Globalization.CultureInfo.InvariantCulture,
        System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal, out var time)
        ? new DateTimeOffset(time, TimeSpan.Zero) : null;

    protected bool AsOfInvalid => !string.IsNullOrEmpty(AsOfParameter) && AsOf is null;

    protected Timestamp? AsOfTime => AsOf is { } time ? Timestamp.FromDateTimeOffset(time) : null;

    /// <summary>The query string that keeps this view's indicator and as-of time on a link.</summary>
    protected string ViewQuery => $"?indicator={Uri.EscapeDataString(Indicator)}" + (AsOf is not null ? $"&asOf={Uri.EscapeDataString(AsOfParameter!)}" : "")
        + (FrequencyParameter is "A" or "Q" or "M" ? $"&freq={FrequencyParameter}" : "");

    /// <summary>SDMX's FREQ code of a granularity (A, Q, M).</summary>
    public static string FrequencyCode(Mirps.Catalog.V1.PeriodGranularity granularity) => granularity switch
    {
        Mirps.Catalog.V1.PeriodGranularity.Quarter => "Q",
        Mirps.Catalog.V1.PeriodGranularity.Month => "M",
        _ => "A",
    };

    /// <summary>
    /// The observations of one frequency: the one asked for (freq=A, Q or M) when the figures hold it, else the coarsest they
    /// hold (a decade of years rather than 170 years, quarters and months on one axis). Sets <see cref="Frequency"/> and
    /// <see cref="Frequencies"/>.
    /// </summary>
    protected List<Observation> OfFrequency(List<Observation> observations)
    {
        var held = observations.Select(o => MirpsExchange.Catalogue.Periods.Period.TryParse(o.Period, out var p) ? p.Granularity : Mirps.Catalog.V1.PeriodGranularity.Unspecified)
            .Where(g => g != Mirps.Catalog.V1.PeriodGranularity.Unspecified).Distinct().Order().ToList();
        Frequencies = held;
        if (held.Count == 0)
        {
            return [];
        }
        Frequency = held.FirstOrDefault(g => FrequencyCode(g) == FrequencyParameter, held[0]);
        var code = FrequencyCode(Frequency);
        return [.. observations.Where(o => MirpsExchange.Catalogue.Periods.Period.TryParse(o.Period, out var p) && FrequencyCode(p.Granularity) == code)];
    }

    protected string IndicatorName(string code) => Labels.Indicator(T, code);

    /// <summary>The MIRPS States in the catalogue's order, with their names.</summary>
    protected IReadOnlyList<(string Code, string Name)> States => [.. Catalogue.Catalog.Codelists.First(c => c.Id == StandardCatalogue.ReportingCountryCodelist).Codes.Select(c => (c.Id, T.Label(c.Name)))];

    protected string StateName(string code) => Labels.Country(T, code);

    /// <summary>A code's label in the codelist of <paramref name="dimension"/>.</summary>
    protected string CodeName(string dimension, string code) => Labels.DimensionCode(T, dimension, code);

    /// <summary>
    /// The observations of one indicator (all States, or <paramref name="country"/>), as of the view's time: the totals of
    /// every dimension not asked for (catalogue 2.0's added dimensions at their defaults).
    /// </summary>
    protected async Task<List<Observation>> ObservationsAsync(string? country = null, string[]? sexes = null, string[]? ages = null)
    {
        var request = new StreamObservationsRequest
        {
            IndicatorCodes = { Indicator },
            Sexes = { sexes ?? [StandardCatalogue.TotalCode, ""] },
            Ages = { ages ?? [StandardCatalogue.TotalCode, ""] },
            CountriesOfOrigin = { StandardCatalogue.TotalCode, "" },
            ApplicationTypes = { StandardCatalogue.TotalCode, "" },
            DecisionLevels = { StandardCatalogue.TotalCode, "" },
            ProcedureTypes = { StandardCatalogue.TotalCode, "" },
            CountBases = { "PERSONS", "" },
            CountriesOfDestination = { StandardCatalogue.TotalCode, "" },
            AsOfTime = AsOfTime,
        };
        if (country is not null)
        {
            request.Countries.Add(country);
        }
        var options = await Calls.OptionsAsync();
        using var call = new ObservationService.ObservationServiceClient(Calls.Invoker).StreamObservations(request, options);
        var all = new List<Observation>();
        await foreach (var batch in call.ResponseStream.ReadAllAsync(options.CancellationToken))
        {
            all.AddRange(batch.Observations.Where(o => !o.Deleted).Select(o => o.Observation));
        }
        return all;
    }

    /// <summary>The periods in order (ISO 8601 periods of one granularity sort as text).</summary>
    protected static List<string> Periods(IEnumerable<Observation> observations) => [.. observations.Select(o => o.Period).Distinct().Order(StringComparer.Ordinal)];

    /// <summary>Runs the page's reads; a refusal of a service becomes <see cref="Error"/>.</summary>
    protected async Task LoadAsync(Func<Task> load)
    {
        try
        {
            await load();
        }
        catch (RpcException e)
        {
            Error = e.Status.Detail;
        }
    }
}
