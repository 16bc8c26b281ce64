using Mirps.Observation.V1;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>Valid observations to start from; tests break one field at a time.</summary>
public static class Samples
{
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

    public static ObservationKey KeyOf(Observation o) => new()
    {
        IndicatorCode = o.IndicatorCode,
        Country = o.Country,
        Period = o.Period,
        Sex = o.Sex,
        Age = o.Age,
        CountryOfOrigin = o.CountryOfOrigin,
    };

    public static SubmitObservationsRequest Submit(params Observation[] observations) => new() { Observations = { observations } };
}
