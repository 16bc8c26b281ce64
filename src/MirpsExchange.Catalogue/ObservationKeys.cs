using Mirps.Observation.V1;

namespace MirpsExchange.Catalogue;

public static class ObservationKeys
{
    /// <summary>The key of an observation: every field but the value, status and note.</summary>
    public static ObservationKey Key(this Observation o) => new()
    {
        IndicatorCode = o.IndicatorCode,
        Country = o.Country,
        Period = o.Period,
        Sex = o.Sex,
        Age = o.Age,
        CountryOfOrigin = o.CountryOfOrigin,
    };
}
