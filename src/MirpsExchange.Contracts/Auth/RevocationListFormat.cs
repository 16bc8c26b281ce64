namespace Mirps.Auth;

/// <summary>
/// The identity server's signed revocation list, part of the public contract like the protos: a JWT
/// signed with its current token-signing key (verified against its JWKS), published at
/// {issuer}<see cref="Path"/>, which every node polls. See protos/README.md, "Revocation".
/// </summary>
public static class RevocationListFormat
{
    /// <summary>Where the list is published, relative to the issuer URL (beside .well-known/jwks).</summary>
    public const string Path = ".well-known/mirps-revocations";

    /// <summary>The JWT's <c>typ</c> header: never an access token's <c>at+jwt</c>, so neither can pass for the other.</summary>
    public const string TokenType = "mirps-revocations+jwt";

    /// <summary>Media type of the response body (RFC 7519 section 10.3.1).</summary>
    public const string MediaType = "application/jwt";

    /// <summary>
    /// A number that only grows: the newest audit event of the identity server when the list was made.
    /// A node refuses a list older than the one it holds (a replay).
    /// </summary>
    public const string VersionClaim = "ver";

    /// <summary>Object: client id to a Unix time in seconds; that client's tokens whose <c>iat</c> is earlier are refused.</summary>
    public const string ClientsClaim = "clients";

    /// <summary>Array of signing key ids ("kid") that are compromised: every token they signed is refused.</summary>
    public const string RevokedKeysClaim = "revoked_keys";
}
