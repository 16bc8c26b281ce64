using Mirps.Observation.V1;
using MirpsExchange.Catalogue;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>Valid observations to start from; tests break one field at a time.</summary>
public static class Samples
{
    /// <summary>The origin's sharing policy for tests about sync mechanics rather than policy: every indicator shared with every State.</summary>
    public const string ShareWithAll = "--Node:Sharing:Default:Readers=all";

    public static Observation Refugees(string country = "BLZ", string period = "2023", double value = 240, string sex = "_T", string age = "_T", string origin = "_T") => new()
    {
        IndicatorCode = "REFUGEES",
        Country = country,
        Period = period,
        Sex = sex,
        Age = age,
        CountryOfOrigin = origin,
        Value = value,
        Status = ObservationStatus.Normal,
    };

    public static ObservationKey KeyOf(Observation o) => o.Key();

    public static SubmitObservationsRequest Submit(params Observation[] observations) => new() { Observations = { observations } };

    /// <summary>
    /// <paramref name="count"/> valid REFUGEES observations with distinct keys, in key order within each year:
    /// every sex, age and country of origin of the catalogue (5,250 keys a year) for 2023, then 2022, and so on.
    /// Values keep the catalogue's validation rules: 1 person per sex, age band and origin other than the reporting
    /// country (0 from it), each total the sum of its breakdown (a total sex counts 2, a total age 6, ...).
    /// </summary>
    public static List<Observation> DistinctRefugees(int count, string country = "BLZ")
    {
        var catalogue = StandardCatalogue.LoadStandard();
        var sexes = catalogue.DimensionCodes(StandardCatalogue.SexDimension);
        var ages = catalogue.DimensionCodes(StandardCatalogue.AgeDimension);
        var origins = catalogue.DimensionCodes(StandardCatalogue.CountryOfOriginDimension);
        var rows =
            from year in Enumerable.Range(0, 100).Select(i => $"{2023 - i}")
            from sex in sexes.Order(StringComparer.Ordinal)
            from age in ages.Order(StringComparer.Ordinal)
            from origin in origins.Order(StringComparer.Ordinal)
            let value = (sex == "_T" ? sexes.Count - 1 : 1) * (age == "_T" ? ages.Count - 1 : 1)
                * (origin == country ? 0 : origin == "_T" ? origins.Count - 2 : 1)
            select Refugees(country, year, value, sex, age, origin);
        return [.. rows.Take(count)];
    }
}
