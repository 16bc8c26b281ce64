using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Mirps.Auth;
using MirpsExchange.Identity.Keys;
using MirpsExchange.Identity.Store;
using OpenIddict.Server;

namespace MirpsExchange.Identity.Revocation;

/// <summary>
/// The signed revocation list nodes poll (format in <see cref="RevocationListFormat"/>): credentials
/// whose tokens issued before a cut-off are dead (revoked, or secret rotated at once), signing keys
/// marked compromised, and (not a revocation, but published to every node the same way) the States'
/// log-signing keys. It is built at most once a second however often it is asked for, so the public
/// endpoint costs a cached string per request, and a change shows in it within that second.
/// </summary>
public sealed class RevocationList(
    SigningKeyRing ring, IServiceScopeFactory scopes, IOptions<IdentityOptions> identity, TimeProvider clock)
{
    /// <summary>How long one signed list is served before it is built again.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(1);

    private readonly SemaphoreSlim _build = new(1, 1);
    private volatile Built? _last;

    public static IEndpointRouteBuilder MapRevocationList(IEndpointRouteBuilder app)
    {
        app.MapGet("/" + RevocationListFormat.Path, async (RevocationList list, HttpContext http) =>
        {
            var issuer = http.RequestServices.GetRequiredService<IOptionsMonitor<OpenIddictServerOptions>>().CurrentValue.Issuer
                ?? new Uri($"{http.Request.Scheme}://{http.Request.Host}/");
            http.Response.Headers.CacheControl = "no-cache";
            return Results.Text(await list.GetAsync(issuer, http.RequestAborted), RevocationListFormat.MediaType);
        });
        return app;
    }

    public async Task<string> GetAsync(Uri issuer, CancellationToken cancellationToken)
    {
        if (Fresh(_last) is { } last)
        {
            return last.Jwt;
        }
        await _build.WaitAsync(cancellationToken);
        try
        {
            if (Fresh(_last) is { } built)
            {
                return built.Jwt;
            }
            var snapshot = ring.Current;
            var now = clock.GetUtcNow();
            var jwt = await BuildAsync(issuer, snapshot, now);
            _last = new Built(jwt, now, snapshot);
            return jwt;
        }
        finally
        {
            _build.Release();
        }
    }

    private Built? Fresh(Built? last) =>
        last is not null && clock.GetUtcNow() - last.Time < MaxAge && ReferenceEquals(last.Keys, ring.Current) ? last : null;

    private async Task<string> BuildAsync(Uri issuer, SigningKeyRing.Snapshot keys, DateTimeOffset now)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
        // A cut-off older than a token's lifetime (plus the clock skew validators allow) can refuse nothing
        // that is not already expired: it leaves the list, which so stays as small as the recent changes.
        var horizon = now - identity.Value.AccessTokenLifetime - TokenValidationParameters.DefaultClockSkew;
        var clients = await db.Credentials.AsNoTracking()
            .Where(c => c.TokenCutoffTime != null && c.TokenCutoffTime > horizon)
            .Select(c => new { c.ClientId, c.TokenCutoffTime })
            .ToListAsync(CancellationToken.None);
        // People's accounts disabled or reset, by account id (their tokens' sub, as a credential's client id is).
        clients.AddRange(await db.Users.AsNoTracking()
            .Where(a => a.TokenCutoffTime != null && a.TokenCutoffTime > horizon)
            .Select(a => new { ClientId = a.Id, a.TokenCutoffTime })
            .ToListAsync(CancellationToken.None));
        // Every State's log-signing keys, retired ones too (the heads they signed before stay verifiable).
        var logKeys = await db.LogKeys.AsNoTracking().ToListAsync(CancellationToken.None);
        var published = logKeys.Select(k => new PublishedLogKey(k.Country, k.KeyId, k.PublicKey, k.RegisterTime, k.RetireTime)).ToList();
        // The newest audit event: every revocation, rotation, key roll and log key change writes one, so this only grows.
        var version = await db.AuditEvents.MaxAsync(a => (long?)a.Id, CancellationToken.None) ?? 0;

        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        return handler.CreateToken(new SecurityTokenDescriptor
        {
            TokenType = RevocationListFormat.TokenType,
            Issuer = issuer.AbsoluteUri,
            IssuedAt = now.UtcDateTime,
            SigningCredentials = keys.Signing,
            Claims = new Dictionary<string, object>
            {
                [RevocationListFormat.VersionClaim] = version,
                [RevocationListFormat.ClientsClaim] = clients.ToDictionary(c => c.ClientId, c => (object)c.TokenCutoffTime!.Value.ToUnixTimeSeconds(), StringComparer.Ordinal),
                [RevocationListFormat.RevokedKeysClaim] = keys.Compromised.Select(k => (object)k.KeyId).ToList(),
                [RevocationListFormat.LogKeysClaim] = RevocationListFormat.WriteLogKeys(published),
                [RevocationListFormat.RetiredLogKeysClaim] = RevocationListFormat.WriteRetiredLogKeys(published),
            },
        });
    }

    private sealed record Built(string Jwt, DateTimeOffset Time, SigningKeyRing.Snapshot Keys);
}
