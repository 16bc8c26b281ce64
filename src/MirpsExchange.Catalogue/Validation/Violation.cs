namespace MirpsExchange.Catalogue.Validation;

/// <summary>One problem with one field of a request, the field named by its path ("observations[3].period").</summary>
public readonly record struct Violation(string Field, string Description)
{
    public override string ToString() => $"{Field}: {Description}";
}
