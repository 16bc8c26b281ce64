namespace Mirps.Observation.V1;

/// <summary>The two kinds of <see cref="Withholding"/>: a withheld value, or a placeholder.</summary>
public static class WithholdingKinds
{
    /// <summary>
    /// A change served with its key and its value withheld (SMALL_COUNT, COMPLEMENTARY): it carries its value digest, and
    /// counts as an observation whose value the reader may not read. Every other reason but UNSPECIFIED is a placeholder.
    /// </summary>
    public static bool IsValueWithheld(this Withholding withholding) => withholding is Withholding.SmallCount or Withholding.Complementary;
}
