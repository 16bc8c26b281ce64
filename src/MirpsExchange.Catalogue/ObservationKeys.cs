using Mirps.Log;
using Mirps.Observation.V1;

namespace MirpsExchange.Catalogue;

public static class ObservationKeys
{
    /// <summary>The key of an observation: every field but the value, status, note and attributes.</summary>
    public static ObservationKey Key(this Observation o)
    {
        var key = new ObservationKey
        {
            IndicatorCode = o.IndicatorCode,
            Country = o.Country,
            Period = o.Period,
            Sex = o.Sex,
            Age = o.Age,
            CountryOfOrigin = o.CountryOfOrigin,
        };
        AddedDimensions.Of(o).CopyTo(key);
        return key;
    }

    /// <summary>A key for messages: its fields comma-separated, catalogue 2.0's dimensions as "field=code" when set.</summary>
    public static string Describe(ObservationKey k)
    {
        var text = string.Join(", ", k.IndicatorCode, k.Country, k.Period, k.Sex, k.Age, k.CountryOfOrigin);
        return AddedDimensions.Of(k).ToString() is { Length: > 0 } added ? $"{text}, {added}" : text;
    }
}
