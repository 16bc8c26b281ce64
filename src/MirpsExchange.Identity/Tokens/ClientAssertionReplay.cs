using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using MirpsExchange.Identity.Store;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace MirpsExchange.Identity.Tokens;

/// <summary>
/// private_key_jwt: OpenIddict verifies a client assertion's signature, issuer, audience and lifetime but
/// accepts the same assertion twice. Each valid assertion's (client, jti) is recorded with an insert that
/// does nothing on conflict; no inserted row means a replay, even of concurrent copies, and is refused.
/// A record is kept until the assertion's exp plus the clock skew OpenIddict allows, since until then
/// OpenIddict still accepts the assertion; assertions that would stay acceptable for long are refused.
/// </summary>
public sealed class ClientAssertionReplay(IdentityDbContext db, TimeProvider clock, IOptionsMonitor<OpenIddictServerOptions> server)
    : IOpenIddictServerHandler<ProcessAuthenticationContext>
{
    /// <summary>Longest an assertion may still be valid when it is presented; longer ones are refused (RFC 7523 asks for short ones).</summary>
    public static readonly TimeSpan MaxRemainingLifetime = TimeSpan.FromMinutes(60);

    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessAuthenticationContext>()
            .UseScopedHandler<ClientAssertionReplay>()
            // After every client authentication step (assertion signature, lifetime, audience, issuer;
            // client id, type): only an assertion that is otherwise valid is recorded, so forged or
            // misaddressed ones cannot fill the table or burn another client's jti.
            .SetOrder(OpenIddictServerHandlers.ValidateClientCertificate.Descriptor.Order + 500)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    /// <summary>
    /// How long after its exp OpenIddict still accepts an assertion. OpenIddict 7.8 validates client
    /// assertions with token validation parameters of their own, which keep IdentityModel's default
    /// skew (5 minutes; the server options' own parameters say zero): the larger of the two, to be safe.
    /// </summary>
    public static TimeSpan AcceptedClockSkew(OpenIddictServerOptions options) =>
        TimeSpan.FromTicks(Math.Max(TokenValidationParameters.DefaultClockSkew.Ticks, options.TokenValidationParameters.ClockSkew.Ticks));

    public async ValueTask HandleAsync(ProcessAuthenticationContext context)
    {
        if (context.ClientAssertionPrincipal is not { } assertion)
        {
            return;
        }
        var tokenId = assertion.GetClaim(Claims.JwtId);
        var expires = assertion.GetExpirationDate();
        var clientId = assertion.GetClaim(Claims.Subject) ?? context.ClientId ?? "";
        if (string.IsNullOrEmpty(tokenId) || expires is null || tokenId.Length > 200)
        {
            context.Reject(Errors.InvalidClient, "The client assertion must carry a jti (at most 200 characters) and an exp.");
            return;
        }
        var now = clock.GetUtcNow();
        if (expires.Value - now > MaxRemainingLifetime)
        {
            context.Reject(Errors.InvalidClient, $"The client assertion's exp is more than {MaxRemainingLifetime.TotalMinutes:0} minutes away; use short-lived assertions.");
            return;
        }
        var keepUntil = (expires.Value + AcceptedClockSkew(server.CurrentValue)).UtcTicks;
        var cancellationToken = context.CancellationToken;
        await db.ClientAssertions.Where(a => a.ExpireTime < now.UtcTicks).ExecuteDeleteAsync(cancellationToken);
        var inserted = await db.Database.ExecuteSqlAsync(
            $"INSERT INTO client_assertions (ClientId, TokenId, ExpireTime) VALUES ({clientId}, {tokenId}, {keepUntil}) ON CONFLICT DO NOTHING",
            cancellationToken);
        if (inserted == 0)
        {
            context.Reject(Errors.InvalidClient, "The client assertion was already used.");
        }
    }
}
