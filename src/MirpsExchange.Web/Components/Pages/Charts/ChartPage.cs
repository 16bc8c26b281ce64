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
    protected DateTimeOffset? AsOf => ParseAsOf(AsOfParameter);

    /// <summary>An as-of time of the view's form (UTC, to the minute or second, or a day), or null.</summary>
    public static DateTimeOffset? ParseAsOf(string? text) => DateTime.TryParseExact(text, AsOfFormats, System.Globalization.CultureInfo.InvariantCulture,
        System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal, out var time)
        ? new DateTimeOffset(time, TimeSpan.Zero) : null;

    /// <summary>The time a view of "now" was opened, to the next second: its downloads read as of it, so they hold what the page showed.</summary>
    private readonly DateTimeOffset _opened = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1);

    /// <summary>The view's downloads (<see cref="Secretariat.PageDownloads"/>; <paramref name="country"/> for a drill-down): the frequency shown, as of the view's time.</summary>
    protected IReadOnlyList<(string Href, string Text)> DownloadLinks(string? country = null) =>
        [.. Secretariat.RegionalDownloads.Formats.Select(f => (Secretariat.PageDownloads.ChartsUrl(f.Format, Indicator, AsOf ?? _opened, FrequencyCode(Frequency), country), f.Text))];

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
        (var shown, Frequency, Frequencies) = OfFrequency(observations, FrequencyParameter);
        return shown;
    }

    /// <summary>The observations of the frequency <paramref name="asked"/> (A, Q or M) when held, else of the coarsest held; that frequency and all those held.</summary>
    public static (List<Observation> Shown, Mirps.Catalog.V1.PeriodGranularity Frequency, IReadOnlyList<Mirps.Catalog.V1.PeriodGranularity> Held) OfFrequency(
        IReadOnlyList<Observation> observations, string? asked)
    {
        var held = observations.Select(o => MirpsExchange.Catalogue.Periods.Period.TryParse(o.Period, out var p) ? p.Granularity : Mirps.Catalog.V1.PeriodGranularity.Unspecified)
            .Where(g => g != Mirps.Catalog.V1.PeriodGranularity.Unspecified).Distinct().Order().ToList();
        if (held.Count == 0)
        {
            return ([], Mirps.Catalog.V1.PeriodGranularity.Year, held);
        }
        var frequency = held.FirstOrDefault(g => FrequencyCode(g) == asked, held[0]);
        var code = FrequencyCode(frequency);
        return ([.. observations.Where(o => MirpsExchange.Catalogue.Periods.Period.TryParse(o.Period, out var p) && FrequencyCode(p.Granularity) == code)], frequency, held);
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
    protected async Task<List<Observation>> ObservationsAsync(string? country = null, string[]? sexes = null, string[]? ages = null) =>
        [.. (await ObservationsAsync(Calls, Indicator, AsOfTime, country, sexes, ages)).Select(o => o.Observation)];

    /// <summary>
    /// The stored observations of <paramref name="indicator"/> a page (and its download) shows, as the person's token may read them: every State
    /// (or <paramref name="country"/>) as of <paramref name="asOf"/>, the totals of every dimension not asked for (catalogue 2.0's added dimensions
    /// at their defaults), deletions and placeholders left out.
    /// </summary>
    public static async Task<List<StoredObservation>> ObservationsAsync(NodeCalls calls, string indicator, Timestamp? asOf, string? country = null,
        string[]? sexes = null, string[]? ages = null)
    {
        var request = new StreamObservationsRequest
        {
            IndicatorCodes = { indicator },
            Sexes = { sexes ?? [StandardCatalogue.TotalCode, ""] },
            Ages = { ages ?? [StandardCatalogue.TotalCode, ""] },
            CountriesOfOrigin = { StandardCatalogue.TotalCode, "" },
            ApplicationTypes = { StandardCatalogue.TotalCode, "" },
            DecisionLevels = { StandardCatalogue.TotalCode, "" },
            ProcedureTypes = { StandardCatalogue.TotalCode, "" },
            CountBases = { "PERSONS", "" },
            CountriesOfDestination = { StandardCatalogue.TotalCode, "" },
            AsOfTime = asOf,
        };
        if (country is not null)
        {
            request.Countries.Add(country);
        }
        var options = await calls.OptionsAsync();
        using var call = new ObservationService.ObservationServiceClient(calls.Invoker).StreamObservations(request, options);
        var all = new List<StoredObservation>();
        await foreach (var batch in call.ResponseStream.ReadAllAsync(options.CancellationToken))
        {
            all.AddRange(batch.Observations.Where(o => !o.Deleted && o.Observation is not null));
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
