using Mirps.Observation.V1;
using MirpsExchange.Catalogue;

namespace MirpsExchange.Benchmarks;

/// <summary>
/// Valid observations with distinct keys, in the order a national system produces them: month by
/// month, indicator by indicator, every combination of the dimensions each indicator declares.
/// </summary>
public static class Workload
{
    public static List<Observation> Generate(StandardCatalogue catalogue, string country, int count, int firstYear = 2000, int seed = 7)
    {
        var random = new Random(seed);
        var rows = new List<Observation>(count);
        var sexes = catalogue.Codelist("CL_SEX").Order(StringComparer.Ordinal).ToArray();
        var ages = catalogue.Codelist("CL_AGE").Order(StringComparer.Ordinal).ToArray();
        var origins = catalogue.Codelist("CL_COUNTRY_OF_ORIGIN").Order(StringComparer.Ordinal).ToArray();
        var monthly = catalogue.Catalog.Indicators.Where(i => i.Granularities.Contains(Mirps.Catalog.V1.PeriodGranularity.Month)).ToList();
        string[] none = [""];
        for (var month = 0; rows.Count < count; month++)
        {
            var period = $"{firstYear + month / 12:D4}-{month % 12 + 1:D2}";
            foreach (var indicator in monthly)
            {
                var dims = indicator.DimensionIds;
                foreach (var sex in dims.Contains("SEX") ? sexes : none)
                foreach (var age in dims.Contains("AGE") ? ages : none)
                foreach (var origin in dims.Contains("COUNTRY_OF_ORIGIN") ? origins : none)
                {
                    rows.Add(new Observation
                    {
                        IndicatorCode = indicator.Code,
                        Country = country,
                        Period = period,
                        Sex = sex,
                        Age = age,
                        CountryOfOrigin = origin,
                        Value = random.Next(0, 50_000),
                        Status = ObservationStatus.Normal,
                    });
                    if (rows.Count == count)
                    {
                        return rows;
                    }
                }
            }
        }
        return rows;
    }
}
