using Mirps.Observation.V1;

namespace Mirps.Log;

/// <summary>
/// Catalogue 2.0's dimensions of an observation key (Observation fields 10 to 14, ObservationKey 7 to 11), in
/// field order. Each has a default, its v1 meaning (<see cref="Defaults"/>): an observation that leaves a declared
/// one empty means its default, and the change log leaves a dimension out when it is empty or at its default,
/// so every v1 hash stays valid. <c>default(AddedDimensions)</c> is all empty (an indicator that declares none).
/// </summary>
public readonly struct AddedDimensions : IEquatable<AddedDimensions>
{
    public const int Count = 5;

    /// <summary>The dimension ids, in field order.</summary>
    public static readonly IReadOnlyList<string> DimensionIds = ["APPLICATION_TYPE", "DECISION_LEVEL", "PROCEDURE_TYPE", "COUNT_BASIS", "COUNTRY_OF_DESTINATION"];

    /// <summary>The fields' names in the schema (and in CSV headers), in field order.</summary>
    public static readonly IReadOnlyList<string> FieldNames = ["application_type", "decision_level", "procedure_type", "count_basis", "country_of_destination"];

    public const string Total = "_T", Persons = "PERSONS";

    /// <summary>Each dimension's default: "_T" (total), and "PERSONS" for COUNT_BASIS (persons and cases never add).</summary>
    public static readonly AddedDimensions Defaults = new(Total, Total, Total, Persons, Total);

    private readonly string? _applicationType, _decisionLevel, _procedureType, _countBasis, _countryOfDestination;

    public AddedDimensions(string applicationType, string decisionLevel, string procedureType, string countBasis, string countryOfDestination) =>
        (_applicationType, _decisionLevel, _procedureType, _countBasis, _countryOfDestination) = (applicationType, decisionLevel, procedureType, countBasis, countryOfDestination);

    public string ApplicationType => _applicationType ?? "";
    public string DecisionLevel => _decisionLevel ?? "";
    public string ProcedureType => _procedureType ?? "";
    public string CountBasis => _countBasis ?? "";
    public string CountryOfDestination => _countryOfDestination ?? "";

    /// <summary>The dimension at <paramref name="index"/> (0 to 4, in field order).</summary>
    public string this[int index] => index switch
    {
        0 => ApplicationType,
        1 => DecisionLevel,
        2 => ProcedureType,
        3 => CountBasis,
        4 => CountryOfDestination,
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    /// <summary>These dimensions with <paramref name="index"/> set to <paramref name="value"/>.</summary>
    public AddedDimensions With(int index, string value) => index switch
    {
        0 => new(value, DecisionLevel, ProcedureType, CountBasis, CountryOfDestination),
        1 => new(ApplicationType, value, ProcedureType, CountBasis, CountryOfDestination),
        2 => new(ApplicationType, DecisionLevel, value, CountBasis, CountryOfDestination),
        3 => new(ApplicationType, DecisionLevel, ProcedureType, value, CountryOfDestination),
        4 => new(ApplicationType, DecisionLevel, ProcedureType, CountBasis, value),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    /// <summary>Whether dimension <paramref name="index"/> is left out of the change log's encoding: empty or at its default.</summary>
    public bool IsEmptyOrDefault(int index)
    {
        var value = this[index];
        return value.Length == 0 || value == Defaults[index];
    }

    public static AddedDimensions Of(Mirps.Observation.V1.Observation o) => new(o.ApplicationType, o.DecisionLevel, o.ProcedureType, o.CountBasis, o.CountryOfDestination);

    public static AddedDimensions Of(ObservationKey k) => new(k.ApplicationType, k.DecisionLevel, k.ProcedureType, k.CountBasis, k.CountryOfDestination);

    public void CopyTo(Mirps.Observation.V1.Observation o)
    {
        o.ApplicationType = ApplicationType;
        o.DecisionLevel = DecisionLevel;
        o.ProcedureType = ProcedureType;
        o.CountBasis = CountBasis;
        o.CountryOfDestination = CountryOfDestination;
    }

    public void CopyTo(ObservationKey k)
    {
        k.ApplicationType = ApplicationType;
        k.DecisionLevel = DecisionLevel;
        k.ProcedureType = ProcedureType;
        k.CountBasis = CountBasis;
        k.CountryOfDestination = CountryOfDestination;
    }

    /// <summary>Ordinal comparison, dimension by dimension in field order (the store's key order).</summary>
    public int CompareTo(in AddedDimensions other)
    {
        for (var i = 0; i < Count; i++)
        {
            var c = string.CompareOrdinal(this[i], other[i]);
            if (c != 0)
            {
                return c;
            }
        }
        return 0;
    }

    public bool Equals(AddedDimensions other) =>
        ApplicationType == other.ApplicationType && DecisionLevel == other.DecisionLevel && ProcedureType == other.ProcedureType
        && CountBasis == other.CountBasis && CountryOfDestination == other.CountryOfDestination;

    public override bool Equals(object? obj) => obj is AddedDimensions other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(ApplicationType, DecisionLevel, ProcedureType, CountBasis, CountryOfDestination);

    public static bool operator ==(AddedDimensions left, AddedDimensions right) => left.Equals(right);

    public static bool operator !=(AddedDimensions left, AddedDimensions right) => !left.Equals(right);

    /// <summary>The non-empty dimensions as "id=code", comma-separated (for messages); empty when none is set.</summary>
    public override string ToString()
    {
        var self = this;
        return string.Join(", ", Enumerable.Range(0, Count).Where(i => self[i].Length > 0).Select(i => $"{FieldNames[i]}={self[i]}"));
    }
}

/// <summary>
/// Catalogue 2.0's attributes of a value (Observation fields 15 to 17), part of the value digest (fields 5 to 7,
/// left out at their default). <c>default</c>: a v1 value (exact, free, reported).
/// </summary>
public readonly record struct ValueAttributes(bool LowerBound, ConfidentialityStatus Confidentiality, bool Synthetic)
{
    public static ValueAttributes Of(Mirps.Observation.V1.Observation o) => new(o.LowerBound, o.Confidentiality, o.Synthetic);

    public void CopyTo(Mirps.Observation.V1.Observation o)
    {
        o.LowerBound = LowerBound;
        o.Confidentiality = Confidentiality;
        o.Synthetic = Synthetic;
    }
}
