using Microsoft.EntityFrameworkCore;
using MirpsExchange.Identity.Store;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace MirpsExchange.Identity.Tokens;

/// <summary>
/// private_key_jwt: OpenIddict verifies a client assertion's signature, issuer, audience and lifetime but
/// accepts the same assertion twice. Each valid assertion's (client, jti) is recorded until it expires,
/// with an insert that fails on conflict: a replay, even of concurrent copies, is refused.
/// </summary>
public sealed class ClientAssertionReplay(IdentityDbContext db, TimeProvider clock) : IOpenIddictServerHandler<ProcessAuthenticationContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessAuthenticationContext>()
            .UseScopedHandler<ClientAssertionReplay>()
            .SetOrder(OpenIddictServerHandlers.ValidateClientAssertionIssuer.Descriptor.Order + 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

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
        await db.ClientAssertions.Where(a => a.ExpireTime < now.UtcTicks).ExecuteDeleteAsync();
        db.ClientAssertions.Add(new ClientAssertionRecord { ClientId = clientId, TokenId = tokenId, ExpireTime = expires.Value.UtcTicks });
        try
        {
            await db.SaveChangesAsync();
        }
        catch (DbUpdateException)
        {
            db.ChangeTracker.Clear();
            context.Reject(Errors.InvalidClient, "The client assertion was already used.");
        }
    }
}
