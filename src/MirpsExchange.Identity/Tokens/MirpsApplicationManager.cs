using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Core;
using OpenIddict.EntityFrameworkCore.Models;
using MirpsExchange.Identity.Store;

namespace MirpsExchange.Identity.Tokens;

/// <summary>
/// OpenIddict's application manager, plus a rotated secret's grace period: while it lasts, the
/// previous secret (kept hashed in the credential register) is accepted beside the new one.
/// </summary>
public sealed class MirpsApplicationManager(
    IOpenIddictApplicationCache<OpenIddictEntityFrameworkCoreApplication> cache,
    ILogger<OpenIddictApplicationManager<OpenIddictEntityFrameworkCoreApplication>> logger,
    IOptionsMonitor<OpenIddictCoreOptions> options,
    IOpenIddictApplicationStore<OpenIddictEntityFrameworkCoreApplication> store,
    IdentityDbContext db,
    TimeProvider clock)
    : OpenIddictApplicationManager<OpenIddictEntityFrameworkCoreApplication>(cache, logger, options, store)
{
    public override async ValueTask<bool> ValidateClientSecretAsync(OpenIddictEntityFrameworkCoreApplication application, string secret, CancellationToken cancellationToken = default)
    {
        if (await base.ValidateClientSecretAsync(application, secret, cancellationToken))
        {
            return true;
        }
        var now = clock.GetUtcNow();
        var previous = await db.Credentials.AsNoTracking()
            .Where(c => c.ClientId == application.ClientId && c.PreviousSecretHash != null)
            .Select(c => new { c.PreviousSecretHash, c.PreviousSecretExpireTime })
            .FirstOrDefaultAsync(cancellationToken);
        return previous is { PreviousSecretHash: { } hash, PreviousSecretExpireTime: { } expires } && expires > now
            && await ValidateClientSecretAsync(secret, hash, cancellationToken);
    }

    /// <summary>The stored (hashed) form of a secret, as OpenIddict would store it.</summary>
    public ValueTask<string> HashSecretAsync(string secret, CancellationToken cancellationToken) => ObfuscateClientSecretAsync(secret, cancellationToken);
}
