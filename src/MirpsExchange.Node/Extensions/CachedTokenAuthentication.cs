using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Validation.AspNetCore;

namespace MirpsExchange.Node.Extensions;

/// <summary>
/// The node's authentication scheme: a bearer token validated once by OpenIddict (signature, issuer,
/// audience, lifetime) is remembered until it expires, so the many calls a client makes with one token
/// pay for one validation. A token that failed is never cached. Every call, cached or not, is checked
/// against the identity server's revocation list (a dictionary lookup), so a revoked credential's or a
/// compromised key's token is refused within the poll interval however long it stays cached; and its
/// binding to a client certificate is checked on every call too.
/// </summary>
public sealed class CachedTokenAuthentication(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    CachedTokenAuthentication.TokenCache tokens,
    RevocationList revocations,
    TimeProvider clock)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "MirpsBearer";

    /// <summary>Most tokens remembered at once (a few per State and client; generous).</summary>
    public const int CacheSize = 10_000;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var result = await AuthenticateTokenAsync();
        return result.Succeeded && revocations.Refuses(result.Principal) ? AuthenticateResult.Fail("The token was revoked.") : result;
    }

    private async Task<AuthenticateResult> AuthenticateTokenAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.NoResult();
        }
        var token = header["Bearer ".Length..].Trim();
        if (tokens.Cache.TryGetValue<ClaimsPrincipal>(token, out var known) && known is not null)
        {
            return await BoundToThisConnectionAsync(known);
        }
        var result = await Context.AuthenticateAsync(OpenIddictValidationAspNetCoreDefaults.AuthenticationScheme);
        if (result.Succeeded && result.Principal.GetExpirationDate() is { } expires && expires > clock.GetUtcNow())
        {
            tokens.Cache.Set(token, result.Principal, new MemoryCacheEntryOptions { AbsoluteExpiration = expires, Size = 1 });
        }
        return result.Succeeded ? await BoundToThisConnectionAsync(result.Principal) : result;
    }

    /// <summary>A valid token, remembered or not, is accepted only over the connection its binding allows (<see cref="CertificateBinding"/>).</summary>
    private async Task<AuthenticateResult> BoundToThisConnectionAsync(ClaimsPrincipal principal)
    {
        var connection = Request.IsHttps ? await ConnectionCertificateAsync() : null;
        return CertificateBinding.Refusal(principal, connection, Request.IsHttps) is { } refusal
            ? AuthenticateResult.Fail(refusal)
            : AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    /// <summary>The connection's client certificate as the binding check needs it, worked out on the connection's first call.</summary>
    private async ValueTask<CertificateBinding.ConnectionCertificate?> ConnectionCertificateAsync()
    {
        var items = Context.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionItemsFeature>()?.Items;
        if (items?.TryGetValue(typeof(CertificateBinding.ConnectionCertificate), out var known) == true)
        {
            return (CertificateBinding.ConnectionCertificate?)known;
        }
        var certificate = await Context.Connection.GetClientCertificateAsync(Context.RequestAborted);
        var connection = certificate is null ? null : CertificateBinding.ConnectionCertificate.Of(certificate);
        if (items is not null)
        {
            items[typeof(CertificateBinding.ConnectionCertificate)] = connection;
        }
        return connection;
    }

    /// <summary>
    /// The remembered tokens, in a cache of their own: its size limit (every entry counts 1) must not
    /// apply to the app-wide IMemoryCache, whose other users do not give their entries a size.
    /// </summary>
    public sealed class TokenCache : IDisposable
    {
        public MemoryCache Cache { get; } = new(new MemoryCacheOptions { SizeLimit = CacheSize });

        public void Dispose() => Cache.Dispose();
    }

    /// <summary>No or no valid token: 401 with a bearer challenge (gRPC clients see UNAUTHENTICATED).</summary>
    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        return Task.CompletedTask;
    }
}
