namespace Mirps.Log;

/// <summary>
/// The number of a complementary-suppression method on the wire (LogHead.suppression_method, StreamChangesRequest and
/// StreamChangesResponse; protos/README.md, "Disclosure control", "Method versions"). 0 means <see cref="Default"/>, the
/// method in force when methods were versioned, and the signed encoding leaves <see cref="Default"/> out, so every head
/// signed before the field existed verifies, and a node that does not know the field verifies a head at the default.
/// </summary>
public static class SuppressionMethod
{
    /// <summary>Method 3: additive lines across the dimensions with a total, and a year's temporal lines.</summary>
    public const uint Default = 3;

    /// <summary>The method a wire value means: 0 is <see cref="Default"/>.</summary>
    public static uint Of(uint wire) => wire == 0 ? Default : wire;

    /// <summary>The value the signed encoding holds: 0 (left out) for <see cref="Default"/>.</summary>
    public static long Encoded(uint wire) => Of(wire) == Default ? 0 : Of(wire);
}
