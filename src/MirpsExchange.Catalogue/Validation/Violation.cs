namespace MirpsExchange.Catalogue.Validation;

/// <summary>
/// One problem with one field of a request, the field named by its path ("observations[3].period"). The description is
/// English (the API's language); <see cref="Spanish"/> says the same for the web app's Spanish pages, where it was written.
/// Two violations are equal when their field and English description are.
/// </summary>
public readonly record struct Violation(string Field, string Description)
{
    public Violation(string field, string description, string spanish) : this(field, description) => Spanish = spanish;

    /// <summary>The description in Spanish, or null where none was written.</summary>
    public string? Spanish { get; init; }

    /// <summary>The description in <paramref name="language"/> ("es": Spanish where written), else English.</summary>
    public string DescriptionIn(string language) => language == "es" && Spanish is { } spanish ? spanish : Description;

    public bool Equals(Violation other) => string.Equals(Field, other.Field, StringComparison.Ordinal) && string.Equals(Description, other.Description, StringComparison.Ordinal);

    public override int GetHashCode() => HashCode.Combine(Field, Description);

    public override string ToString() => $"{Field}: {Description}";
}
