using Google.Protobuf.Reflection;
using Mirps.Observation.V1;

namespace MirpsExchange.Catalogue.Validation.Rules;

/// <summary>
/// The dimension fields of <see cref="Observation"/> and <see cref="ObservationKey"/> by dimension id (SEX -> sex),
/// in the order of <see cref="StandardCatalogue.ObservationDimensions"/>: a dimension added there (and to the
/// messages) is read and written here without another line of code.
/// </summary>
public static class ObservationDimensionFields
{
    private static readonly FieldDescriptor[] ObservationFields = Fields(Observation.Descriptor);
    private static readonly FieldDescriptor[] KeyFields = Fields(ObservationKey.Descriptor);

    public static int Count => ObservationFields.Length;

    /// <summary>The store's column of each dimension (its field name), in the same order.</summary>
    public static IReadOnlyList<string> ColumnNames { get; } = [.. ObservationFields.Select(f => f.Name)];

    /// <summary>
    /// Each dimension field's property getter, called directly: the descriptors' reflection accessors (an untyped delegate
    /// and a cast per field) were most of the time a submit spent making its rows' rule cells.
    /// </summary>
    private static readonly Func<Observation, string>[] ObservationGetters = Getters<Observation>(ObservationFields);
    private static readonly Func<ObservationKey, string>[] KeyGetters = Getters<ObservationKey>(KeyFields);

    public static string[] Values(Observation observation)
    {
        var values = new string[ObservationGetters.Length];
        for (var d = 0; d < values.Length; d++)
        {
            values[d] = ObservationGetters[d](observation);
        }
        return values;
    }

    /// <summary>
    /// An observation's dimension values as the node stores them: catalogue 2.0's dimensions as
    /// <paramref name="stored"/> (a declared one sent empty at its default: ObservationValidator's BatchValidation.Dimensions).
    /// </summary>
    public static string[] Values(Observation observation, Mirps.Log.AddedDimensions stored)
    {
        var values = Values(observation);
        for (var a = 0; a < Mirps.Log.AddedDimensions.Count; a++)
        {
            var d = AddedPositions[a];
            if (d >= 0)
            {
                values[d] = stored[a];
            }
        }
        return values;
    }

    /// <summary>Where each of catalogue 2.0's dimensions is among <see cref="ColumnNames"/> (-1: absent).</summary>
    private static readonly int[] AddedPositions = [.. Mirps.Log.AddedDimensions.FieldNames.Select(name => Array.FindIndex(ObservationFields, f => f.Name == name))];

    public static string[] Values(ObservationKey key)
    {
        var values = new string[KeyGetters.Length];
        for (var d = 0; d < values.Length; d++)
        {
            values[d] = KeyGetters[d](key);
        }
        return values;
    }

    public static ObservationKey Key(string indicator, string country, string period, string[] dimensions)
    {
        var key = new ObservationKey { IndicatorCode = indicator, Country = country, Period = period };
        for (var d = 0; d < dimensions.Length; d++)
        {
            KeyFields[d].Accessor.SetValue(key, dimensions[d]);
        }
        return key;
    }

    private static Func<T, string>[] Getters<T>(FieldDescriptor[] fields) =>
    [
        .. fields.Select(f => (typeof(T).GetProperty(f.PropertyName)?.GetMethod
            ?? throw new InvalidOperationException($"{typeof(T).Name} has no property for the field {f.Name}")).CreateDelegate<Func<T, string>>()),
    ];

    private static FieldDescriptor[] Fields(MessageDescriptor message) =>
    [
        .. StandardCatalogue.ObservationDimensions.Select(id => message.FindFieldByName(id.ToLowerInvariant())
            ?? throw new InvalidOperationException($"{message.Name} has no field for the dimension {id}")),
    ];
}
