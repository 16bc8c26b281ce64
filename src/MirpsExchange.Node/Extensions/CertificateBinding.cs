using System.Security.Claims;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Mirps.Auth;
using Mirps.Tls;

namespace MirpsExchange.Node.Extensions;

/// <summary>
/// Sender-constrained tokens (RFC 8705) at a node: a token bound to a client certificate (claim
/// <c>cnf</c> with <c>x5t#S256</c>) is worth something only over a connection that presented that very
/// certificate. Over TLS every token must be bound, and the certificate must name the token's own party
/// (urn:mirps:PAN for a State's token, urn:mirps:secretariat for the Secretariat's), so what a node
/// serves a reader rests on the certificate of the connection, not on the token alone. Checked on every
/// call, remembered token or not: the token cache must not become a way around it.
/// </summary>
public static class CertificateBinding
{
    public const string ConfirmationClaim = "cnf";
    public const string ThumbprintMember = "x5t#S256";

    /// <summary>What a connection's client certificate says, worked out once per connection (a client makes many calls on one).</summary>
    /// <param name="Thumbprint">The certificate's SHA-256 thumbprint as <c>x5t#S256</c> carries it (base64url), as ASCII bytes.</param>
    /// <param name="Party">The MIRPS party the certificate names, or null.</param>
    public sealed record ConnectionCertificate(byte[] Thumbprint, string? Party)
    {
        public static ConnectionCertificate Of(X509Certificate2 certificate) =>
            new(Encoding.ASCII.GetBytes(Base64Url(SHA256.HashData(certificate.RawData))), FederationIdentity.PartyOf(certificate));
    }

    /// <summary>Why <paramref name="principal"/> may not be used over this connection, or null when it may.</summary>
    /// <param name="overTls">Whether the call came over TLS (then the token must be bound).</param>
    public static string? Refusal(ClaimsPrincipal principal, X509Certificate2? connectionCertificate, bool overTls) =>
        Refusal(principal, connectionCertificate is null ? null : ConnectionCertificate.Of(connectionCertificate), overTls);

    /// <inheritdoc cref="Refusal(ClaimsPrincipal, X509Certificate2?, bool)"/>
    public static string? Refusal(ClaimsPrincipal principal, ConnectionCertificate? connection, bool overTls)
    {
        var bound = BoundThumbprint(principal);
        if (bound is null)
        {
            return overTls ? "over TLS a token must be bound to the client's certificate (cnf x5t#S256); this one is not" : null;
        }
        if (connection is null)
        {
            return "the token is bound to a client certificate, and this connection presented none";
        }
        if (!CryptographicOperations.FixedTimeEquals(connection.Thumbprint, bound))
        {
            return "the token is bound to another client certificate than this connection's";
        }
        var party = FederationIdentity.PartyOf(principal.FindFirst(MirpsAuth.RoleClaim)?.Value ?? "", principal.FindFirst(MirpsAuth.CountryClaim)?.Value);
        return connection.Party == party ? null : $"the token is {party}'s but the client certificate names {connection.Party ?? "no MIRPS party"}";
    }

    /// <summary>Each validated principal's bound thumbprint, parsed once (a cached token's principal serves many calls).</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ClaimsPrincipal, byte[]> Bound = [];

    private static readonly byte[] NotBound = [];

    /// <summary>The thumbprint a token is bound to, or null when it is not bound (or its cnf is not one we understand, which refuses it over TLS).</summary>
    private static byte[]? BoundThumbprint(ClaimsPrincipal principal)
    {
        var bound = Bound.GetValue(principal, static p => ParseThumbprint(p) is { } thumbprint ? Encoding.ASCII.GetBytes(thumbprint) : NotBound);
        return bound.Length == 0 ? null : bound;
    }

    private static string? ParseThumbprint(ClaimsPrincipal principal)
    {
        if (principal.FindFirst(ConfirmationClaim)?.Value is not { Length: > 0 } confirmation)
        {
            return null;
        }
        try
        {
            using var json = JsonDocument.Parse(confirmation);
            return json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty(ThumbprintMember, out var value)
                && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } thumbprint ? thumbprint : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
