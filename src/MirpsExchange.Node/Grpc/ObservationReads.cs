using Microsoft.EntityFrameworkCore;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Catalogue.Validation;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Grpc;

/// <summary>
/// A query's answer as one reader receives it, for every face that reads observations: ObservationService.StreamObservations
/// and SDMX REST's data resource (Sdmx/) take the same filters, the same checks, the same as-of read and the same
/// sharing (<see cref="ObservationQueries.VisibleTo"/>, <see cref="ServedObservations"/> with <see cref="ComplementaryWithholding"/>),
/// so neither can serve what the other withholds.
/// </summary>
public sealed class ObservationReads(NodeDbContext db, ObservationValidator validator, TimeProvider clock, SharingPolicies policies,
    Microsoft.Extensions.Options.IOptions<NodeOptions> options)
{
    /// <summary>Most entries in one filter list of a query (indicator_codes, countries, sexes, ages, countries_of_origin).</summary>
    public const int MaxFilterValues = 300;

    /// <summary>Which revisions of each key a query answers with.</summary>
    public abstract record Revisions
    {
        /// <summary>The value of each key now, or as of the request's as_of_time (deleted keys left out): StreamObservations.</summary>
        public static readonly Revisions Current = new CurrentRevisions();

        private Revisions()
        {
        }

        private sealed record CurrentRevisions : Revisions;

        /// <summary>
        /// Every revision this node had received (by the request's as_of_time, if any), deletions included, in the order received;
        /// with <paramref name="ReceivedAfter"/> (store time), only those received after it, chosen by the store's query.
        /// </summary>
        public sealed record History(long? ReceivedAfter = null) : Revisions;

        /// <summary>The latest revision of each key this node received after <paramref name="Micros"/> (store time), a deletion included.</summary>
        public sealed record UpdatedAfter(long Micros) : Revisions;
    }

    public StandardCatalogue Catalogue => validator.Catalogue;

    /// <summary>
    /// The observations <paramref name="reader"/> receives for <paramref name="request"/> (checked first: INVALID_ARGUMENT with
    /// field violations), in key order (<see cref="Revisions.History"/>: each key's revisions in order), without placeholders;
    /// a value withheld from the reader comes as ServedObservations serves it (value 0, status CONFIDENTIAL, its withholding).
    /// </summary>
    /// <param name="seriesOrder">Current revisions in series order (<see cref="ObservationQueries.OrderBySeries"/>) instead of key order.</param>
    public async Task<IAsyncEnumerable<StoredObservation>> ServeAsync(StreamObservationsRequest request, Reader reader, Revisions revisions, CancellationToken cancellationToken,
        bool seriesOrder = false)
    {
        var now = StoreTime.ToMicros(clock.GetUtcNow());
        // The withholdings and the rows from one snapshot: a commit between the two would be served against a stale decision.
        var snapshot = await ReadSnapshot.BeginAsync(db, cancellationToken);
        try
        {
            var drafts = await Approval.DraftHold.ForAsync(db, options.Value.Country, policies, validator.Catalogue, reader, cancellationToken);
            var (tables, query) = ObservationQuery(request, revisions, reader, now, seriesOrder, drafts);
            query = query.VisibleTo(reader, now);
            // Values that would give a withheld one away by subtraction are withheld too, in every answer alike (as of any time).
            var served = new ServedObservations(reader, now)
            {
                Complementary = await ComplementaryWithholding.ForTablesAsync(db.Observations.AsNoTracking(), tables, reader, validator.Catalogue, now, cancellationToken,
                    (ComplementaryWithholding.MemoOf(db, reader), db)),
                Drafts = drafts,
            };
            return ReadSnapshot.Within(query.AsAsyncEnumerable().Select(served.Serve).Where(o => !ServedObservations.IsPlaceholder(o)), snapshot, cancellationToken);
        }
        catch
        {
            if (snapshot is not null)
            {
                await snapshot.DisposeAsync();
            }
            throw;
        }
    }

    /// <summary>The query's answer, and every revision of the periods (indicator, country, period) it reads from.</summary>
    private (IQueryable<ObservationRow> Tables, IQueryable<ObservationRow> Query) ObservationQuery(StreamObservationsRequest request, Revisions revisions, Reader reader, long nowMicros, bool seriesOrder,
        Approval.DraftHold? drafts)
    {
        var catalogue = validator.Catalogue;
        var violations = new List<Violation>();
        CheckFilter(request.IndicatorCodes, "indicator_codes", violations,
            code => catalogue.FindIndicator(code) is null ? $"unknown indicator '{code}' (catalogue {catalogue.Version}; CatalogService.GetCatalog lists the indicators)" : null);
        CheckFilter(request.Countries, "countries", violations,
            code => catalogue.ReportingCountries.Contains(code) ? null : $"'{code}' is not a MIRPS State ({string.Join(", ", catalogue.ReportingCountries.Order(StringComparer.Ordinal))})");
        CheckDimensionFilter(request.Sexes, "sexes", StandardCatalogue.SexDimension, violations);
        CheckDimensionFilter(request.Ages, "ages", StandardCatalogue.AgeDimension, violations);
        CheckDimensionFilter(request.CountriesOfOrigin, "countries_of_origin", StandardCatalogue.CountryOfOriginDimension, violations);
        var added = AddedFilters(request);
        for (var d = 0; d < Mirps.Log.AddedDimensions.Count; d++)
        {
            CheckDimensionFilter(added[d], AddedFilterFields[d], Mirps.Log.AddedDimensions.DimensionIds[d], violations);
        }
        var from = ParseBound(request.PeriodFrom, "period_from", violations);
        var to = ParseBound(request.PeriodTo, "period_to", violations);
        if (from is { } start && to is { } end && start.Start > end.End)
        {
            violations.Add(new("period_to", $"period_to {end} ends on {end.End:yyyy-MM-dd}, before period_from {start} starts ({start.Start:yyyy-MM-dd}): no period lies between them"));
        }
        if (request.BatchSize is < 0 or > ObservationGrpcService.MaxStreamBatchSize)
        {
            violations.Add(new("batch_size", $"batch_size must be between 1 and {ObservationGrpcService.MaxStreamBatchSize:N0} (0 for the default {ObservationGrpcService.DefaultStreamBatchSize:N0})"));
        }
        ObservationGrpcService.ThrowIfInvalid(violations, "query");

        var asOf = request.AsOfTime is { } time ? StoreTime.ToMicros(time.ToDateTimeOffset()) : (long?)null;
        var tables = db.Observations.AsNoTracking()
            .WhereIn(request.IndicatorCodes, codes => o => codes.Contains(o.IndicatorCode))
            .WhereIn(request.Countries, codes => o => codes.Contains(o.Country));
        if (from is { } first)
        {
            tables = tables.Where(o => o.PeriodStart >= first.Start);
        }
        if (to is { } last)
        {
            tables = tables.Where(o => o.PeriodEnd <= last.End);
        }
        if (from is { } low && to is { } high && KeyPrefixes(request, low, high) is { } prefixes)
        {
            // The store's one index leads with (indicator, country, period): a time-bounded query that names no indicator or State
            // would read every row (a dashboard's regional table of one year over SDMX: seconds at 7 × 1 M rows). It seeks every key
            // prefix the bounds allow instead; the answer is the same (the period bounds above still apply).
            var (indicators, countries, periods) = prefixes;
            tables = tables.Where(o => indicators.Contains(o.IndicatorCode) && countries.Contains(o.Country) && periods.Contains(o.Period));
        }
        var chosen = revisions switch
        {
            Revisions.History history => (asOf is { } until ? tables.Where(o => o.ReceivedTime <= until) : tables)
                .Where(o => history.ReceivedAfter == null || o.ReceivedTime > history.ReceivedAfter),
            Revisions.UpdatedAfter after => tables.Where(o => o.ReceivedTime > after.Micros && (asOf == null ? o.SupersededTime == null
                : o.ReceivedTime <= asOf && (o.SupersededTime == null || o.SupersededTime > asOf))),
            // An embargoed revision, or a draft held back, does not replace the one the reader could read: current and as-of answers agree.
            _ => tables.AsOfFor(db.Observations.AsNoTracking(), reader, asOf, nowMicros, drafts?.Held(db.LifecycleEntries.AsNoTracking())),
        };
        var query = chosen
            .WhereIn(request.Sexes, codes => o => codes.Contains(o.Sex))
            .WhereIn(request.Ages, codes => o => codes.Contains(o.Age))
            .WhereIn(request.CountriesOfOrigin, codes => o => codes.Contains(o.CountryOfOrigin))
            .WhereIn(request.ApplicationTypes, codes => o => codes.Contains(o.ApplicationType))
            .WhereIn(request.DecisionLevels, codes => o => codes.Contains(o.DecisionLevel))
            .WhereIn(request.ProcedureTypes, codes => o => codes.Contains(o.ProcedureType))
            .WhereIn(request.CountBases, codes => o => codes.Contains(o.CountBasis))
            .WhereIn(request.CountriesOfDestination, codes => o => codes.Contains(o.CountryOfDestination));
        return (tables, revisions is Revisions.History ? query.OrderByKey().ThenBy(o => o.ReceivedTime).ThenBy(o => o.Revision)
            : seriesOrder ? query.OrderBySeries() : query.OrderByKey());
    }

    /// <summary>The request's filter fields of catalogue 2.0's dimensions, in field order.</summary>
    /// <summary>Every indicator code of the catalogue versions shipped (a replica may hold rows of an earlier one), read once.</summary>
    private static readonly Lazy<string[]> ShippedIndicators = new(() =>
        [.. StandardCatalogue.ShippedVersions.Keys.SelectMany(version => StandardCatalogue.LoadVersion(version).Catalog.Indicators.Select(i => i.Code))]);

    /// <summary>Above this many (indicator, country, period) seeks a scan of the store is cheaper.</summary>
    private const int MaxKeyPrefixes = 50_000;

    /// <summary>
    /// The indicators (asked for, else every one the served catalogue or a shipped version knows), States (asked for, else every
    /// one) and periods of every granularity within [<paramref name="from"/>, <paramref name="to"/>] a row of the answer can have;
    /// null when there would be more than <see cref="MaxKeyPrefixes"/> combinations.
    /// </summary>
    private (List<string> Indicators, List<string> Countries, List<string> Periods)? KeyPrefixes(StreamObservationsRequest request, Period from, Period to)
    {
        var catalogue = validator.Catalogue;
        List<string> indicators = request.IndicatorCodes.Count > 0 ? [.. request.IndicatorCodes]
            : [.. catalogue.Catalog.Indicators.Select(i => i.Code).Concat(ShippedIndicators.Value).Distinct(StringComparer.Ordinal)];
        List<string> countries = request.Countries.Count > 0 ? [.. request.Countries] : [.. catalogue.ReportingCountries];
        var periods = new List<string>();
        for (var year = from.Start.Year; year <= to.End.Year && (long)indicators.Count * countries.Count * periods.Count <= MaxKeyPrefixes; year++)
        {
            foreach (var (granularity, count) in new[] { (Mirps.Catalog.V1.PeriodGranularity.Year, 1), (Mirps.Catalog.V1.PeriodGranularity.Quarter, 4), (Mirps.Catalog.V1.PeriodGranularity.Month, 12) })
            {
                for (var number = 1; number <= count; number++)
                {
                    var period = new Period(granularity, year, count == 1 ? 0 : number);
                    if (period.Start >= from.Start && period.End <= to.End)
                    {
                        periods.Add(period.ToString());
                    }
                }
            }
        }
        return (long)indicators.Count * countries.Count * periods.Count <= MaxKeyPrefixes ? (indicators, countries, periods) : null;
    }

    private static readonly string[] AddedFilterFields = ["application_types", "decision_levels", "procedure_types", "count_bases", "countries_of_destination"];

    private static IReadOnlyList<string>[] AddedFilters(StreamObservationsRequest request) =>
        [request.ApplicationTypes, request.DecisionLevels, request.ProcedureTypes, request.CountBases, request.CountriesOfDestination];

    /// <summary>At most <see cref="MaxFilterValues"/> entries, each of which <paramref name="problem"/> accepts (null) or describes.</summary>
    private static void CheckFilter(IReadOnlyList<string> values, string field, List<Violation> violations, Func<string, string?> problem)
    {
        if (values.Count > MaxFilterValues)
        {
            violations.Add(new(field, $"{field} holds at most {MaxFilterValues} entries; this one has {values.Count:N0}"));
            return;
        }
        for (var i = 0; i < values.Count; i++)
        {
            if (problem(values[i]) is { } description)
            {
                violations.Add(new($"{field}[{i}]", description));
            }
        }
    }

    /// <summary>Codes of the dimension's codelist, or empty for the observations of indicators that do not declare it.</summary>
    private void CheckDimensionFilter(IReadOnlyList<string> values, string field, string dimension, List<Violation> violations)
    {
        var codes = validator.Catalogue.DimensionCodes(dimension);
        var allowed = codes.Count == 0 ? $"catalogue {validator.Catalogue.Version} does not define it"
            : codes.Count <= 12 ? string.Join(", ", codes) : "ISO 3166-1 alpha-3, _U for unknown, _T for total";
        CheckFilter(values, field, violations, code => code.Length == 0 || codes.Contains(code)
            ? null
            : $"'{code}' is not a code of the {dimension} dimension ({allowed}), nor empty (the observations of indicators that do not declare it)");
    }

    private static Period? ParseBound(string text, string field, List<Violation> violations)
    {
        if (text.Length == 0)
        {
            return null;
        }
        if (Period.TryParse(text, out var period))
        {
            return period;
        }
        violations.Add(new(field, $"'{text}' is not {Period.Format}"));
        return null;
    }
}
