using System.Security.Claims;
using Mirps.Auth;

namespace MirpsExchange.Node.Sharing;

/// <summary>Who receives data: a State (by its ISO3 code) or the Secretariat.</summary>
public sealed record Reader(string? Country, bool IsSecretariat)
{
    public static readonly Reader Secretariat = new(null, true);

    public static Reader State(string country) => new(country, false);

    /// <summary>The reader a validated token names, or null when it names neither a State nor the Secretariat.</summary>
    public static Reader? FromCaller(ClaimsPrincipal user) => user.FindFirst(MirpsAuth.RoleClaim)?.Value switch
    {
        MirpsAuth.SecretariatRole => Secretariat,
        MirpsAuth.StateRole when user.FindFirst(MirpsAuth.CountryClaim)?.Value is { Length: > 0 } country => State(country),
        _ => null,
    };

    /// <summary>The reader a node is: its State's (an ISO3 code), or the Secretariat for "secretariat" or a node of no State.</summary>
    public static Reader OfNode(string nodeCountry) =>
        nodeCountry.Length == 0 || string.Equals(nodeCountry, MirpsAuth.Secretariat, StringComparison.OrdinalIgnoreCase)
            ? Secretariat
            : State(nodeCountry.ToUpperInvariant());

    public bool Owns(string origin) => !IsSecretariat && Country == origin;

    public override string ToString() => IsSecretariat ? "the Secretariat" : Country!;
}
