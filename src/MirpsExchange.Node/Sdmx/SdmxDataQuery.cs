using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue.Exports;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Node.Grpc;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Sdmx;

/// <summary>
/// A data query, <c>/data/{flowRef}/{key}/{providerRef}?startPeriod&amp;endPeriod&amp;updatedAfter&amp;includeHistory&amp;dimensionAtObservation
/// &amp;detail&amp;firstNObservations&amp;lastNObservations&amp;asOf</c> (SDMX REST 2.1; asOf is MirpsExchange's), read into the
/// StreamObservations request it asks the same thing as. The key has one part per dimension of
/// <see cref="SdmxStructure.KeyDimensions"/> (indicator, reference area, sex, age, country of origin, then catalogue 2.0's),
/// each empty (any code) or codes joined by <c>+</c>; <c>_Z</c> asks for the observations of indicators that do not declare the
/// dimension. Periods are the catalogue's (2023, 2023-Q1, 2023-01). includeHistory with updatedAfter: every revision received after
/// that time (<see cref="ObservationReads.Revisions.History.ReceivedAfter"/>). detail=serieskeysonly or nodata: the series without observations
/// (<paramref name="WithObservations"/>; every attribute here is an observation's, so both give the series keys).
/// </summary>
public sealed record SdmxDataQuery(
    StreamObservationsRequest Request,
    ObservationReads.Revisions Revisions,
    string DimensionAtObservation,
    bool WithAttributes,
    int? FirstN,
    int? LastN,
    bool WithObservations = true)
{
    private static readonly string[] DetailValues = ["full", "dataonly", "serieskeysonly", "nodata"];
    private static readonly string[] Flags = ["true", "false"];

    public static SdmxDataQuery Parse(SdmxStructure structure, string flowRef, string? key, string? providerRef, IQueryCollection query)
    {
        CheckFlow(structure, flowRef);
        if (providerRef is { Length: > 0 } provider && provider != "all")
        {
            throw SdmxError.NotImplemented($"data providers are not implemented here (providerRef '{provider}'); leave it out or use all: the reference area is each figure's State");
        }
        var request = new StreamObservationsRequest();
        if (key is { Length: > 0 } && key != "all")
        {
            var parts = key.Split('.');
            if (parts.Length != structure.KeyDimensions.Count)
            {
                throw SdmxError.Syntax($"the key '{key}' has {parts.Length} part(s); this dataflow's key has {structure.KeyDimensions.Count}, separated by dots: {string.Join('.', structure.KeyDimensions)}");
            }
            for (var i = 0; i < parts.Length; i++)
            {
                if (parts[i].Length == 0)
                {
                    continue;
                }
                var dimension = structure.KeyDimensions[i];
                var codelist = structure.CodelistOf(dimension)!;
                var codes = parts[i].Split('+');
                if (codes.FirstOrDefault(c => !codelist.Contains(c)) is { } unknown)
                {
                    // No observation can have it: "no results", as for any code nothing was reported for.
                    throw SdmxError.NoResults($"'{unknown}' is not a code of {dimension} ({codelist.Id}): no data");
                }
                Filter(request, dimension).AddRange(codes.Select(c => c == SdmxCsv.NotApplicable ? "" : c).Distinct(StringComparer.Ordinal));
            }
        }
        request.PeriodFrom = Period(query, "startPeriod");
        request.PeriodTo = Period(query, "endPeriod");
        if (Time(query, "asOf") is { } asOf)
        {
            request.AsOfTime = Timestamp.FromDateTimeOffset(asOf);
        }
        var history = SdmxStructureQuery.One(query, "includeHistory", Flags) == "true";
        var updatedAfter = Time(query, "updatedAfter");
        // Both: the history, kept to the revisions received after that time (every one, not only the latest of each key), chosen by
        // the store's query, so the revisions before it are neither read nor counted against the answer's limit.
        ObservationReads.Revisions revisions = history ? new ObservationReads.Revisions.History(updatedAfter is { } since ? StoreTime.ToMicros(since) : null)
            : updatedAfter is { } after ? new ObservationReads.Revisions.UpdatedAfter(StoreTime.ToMicros(after))
            : ObservationReads.Revisions.Current;

        var atObservation = query.TryGetValue("dimensionAtObservation", out var asked) ? asked.ToString() : SdmxData.TimeSeries;
        if (atObservation is not (SdmxData.TimeSeries or SdmxData.AllDimensions) && !structure.KeyDimensions.Contains(atObservation))
        {
            throw SdmxError.Syntax($"dimensionAtObservation must be {SdmxData.TimeSeries}, {SdmxData.AllDimensions} or a dimension of the dataflow ({string.Join(", ", structure.KeyDimensions)}); got '{atObservation}'");
        }
        var detail = SdmxStructureQuery.One(query, "detail", DetailValues) ?? "full";
        var withObservations = detail is not ("serieskeysonly" or "nodata");
        if (!withObservations && atObservation == SdmxData.AllDimensions)
        {
            throw SdmxError.NotImplemented($"detail={detail} lists series, and dimensionAtObservation={SdmxData.AllDimensions} has none; ask for {SdmxData.TimeSeries} (the default) or a dimension");
        }
        return new(request, revisions, atObservation, detail == "full", Count(query, "firstNObservations"), Count(query, "lastNObservations"),
            withObservations);
    }

    /// <summary>The dataflow a flowRef names: <c>ID</c>, <c>AGENCY,ID</c> or <c>AGENCY,ID,VERSION</c> (all and latest allowed); 404 otherwise.</summary>
    private static void CheckFlow(SdmxStructure structure, string flowRef)
    {
        var parts = flowRef.Split(',');
        var (agency, id, version) = parts.Length switch
        {
            1 => ("all", parts[0], "latest"),
            2 => (parts[0], parts[1], "latest"),
            3 => (parts[0], parts[1], parts[2]),
            _ => throw SdmxError.Syntax($"the flowRef '{flowRef}' is not AGENCY,ID,VERSION"),
        };
        if (agency is not ("all" or SdmxStructure.Agency) || id != SdmxStructure.DataflowId || (version != "latest" && version != "all" && version != structure.Version))
        {
            throw SdmxError.NoResults($"no dataflow '{flowRef}' here; this service holds {SdmxStructure.Agency},{SdmxStructure.DataflowId},{structure.Version}");
        }
    }

    /// <summary>The request's filter list of a dimension.</summary>
    private static Google.Protobuf.Collections.RepeatedField<string> Filter(StreamObservationsRequest request, string dimension) => dimension switch
    {
        SdmxCsv.IndicatorDimension => request.IndicatorCodes,
        SdmxCsv.ReferenceAreaDimension => request.Countries,
        "SEX" => request.Sexes,
        "AGE" => request.Ages,
        "COUNTRY_OF_ORIGIN" => request.CountriesOfOrigin,
        "APPLICATION_TYPE" => request.ApplicationTypes,
        "DECISION_LEVEL" => request.DecisionLevels,
        "PROCEDURE_TYPE" => request.ProcedureTypes,
        "COUNT_BASIS" => request.CountBases,
        "COUNTRY_OF_DESTINATION" => request.CountriesOfDestination,
        _ => throw new InvalidOperationException($"The dimension {dimension} has no filter."),
    };

    private static string Period(IQueryCollection query, string name)
    {
        if (!query.TryGetValue(name, out var values))
        {
            return "";
        }
        var text = values.ToString();
        return Catalogue.Periods.Period.TryParse(text, out var period) ? period.ToString()
            : throw SdmxError.Syntax($"{name} '{text}' is not {Catalogue.Periods.Period.Format}");
    }

    private static DateTimeOffset? Time(IQueryCollection query, string name)
    {
        if (!query.TryGetValue(name, out var values))
        {
            return null;
        }
        var text = values.ToString();
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time
            : throw SdmxError.Syntax($"{name} '{text}' is not an xs:dateTime (for example 2026-12-01T00:00:00Z)");
    }

    private static int? Count(IQueryCollection query, string name)
    {
        if (!query.TryGetValue(name, out var values))
        {
            return null;
        }
        return int.TryParse(values.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n
            : throw SdmxError.Syntax($"{name} must be a positive integer; got '{values}'");
    }
}
