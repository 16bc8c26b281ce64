using System.Buffers.Text;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Server;
using OpenIddict.Validation;

namespace MirpsExchange.Identity.Keys;

/// <summary>
/// OpenIddict reads its signing keys from option lists fixed at start-up. These handlers, each placed
/// right after the built-in step they correct, take the keys from the <see cref="SigningKeyRing"/>
/// instead, per request, so an admin's key roll applies at once to signing, to the JWKS and to the
/// server's own validation of admin tokens, without touching lists other requests are reading.
/// </summary>
public static class SigningKeyRingHandlers
{
    public static IEnumerable<OpenIddictServerHandlerDescriptor> Server { get; } =
    [
        OpenIddictServerHandlerDescriptor.CreateBuilder<OpenIddictServerEvents.GenerateTokenContext>()
            .UseSingletonHandler<SignWithCurrentKey>()
            .SetOrder(OpenIddictServerHandlers.Protection.AttachSecurityCredentials.Descriptor.Order + 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build(),
        OpenIddictServerHandlerDescriptor.CreateBuilder<OpenIddictServerEvents.HandleJsonWebKeySetRequestContext>()
            .UseSingletonHandler<PublishRingKeys>()
            .SetOrder(OpenIddictServerHandlers.Discovery.AttachSigningKeys.Descriptor.Order + 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build(),
    ];

    public static OpenIddictValidationHandlerDescriptor Validation { get; } =
        OpenIddictValidationHandlerDescriptor.CreateBuilder<OpenIddictValidationEvents.ValidateTokenContext>()
            .UseSingletonHandler<TrustRingKeys>()
            .SetOrder(OpenIddictValidationHandlers.Protection.ResolveTokenValidationParameters.Descriptor.Order + 1)
            .SetType(OpenIddictValidationHandlerType.Custom)
            .Build();

    /// <summary>Every token the server signs is signed by the ring's current key.</summary>
    public sealed class SignWithCurrentKey(SigningKeyRing ring) : IOpenIddictServerHandler<OpenIddictServerEvents.GenerateTokenContext>
    {
        public ValueTask HandleAsync(OpenIddictServerEvents.GenerateTokenContext context)
        {
            if (context.SigningCredentials is not null)
            {
                context.SigningCredentials = ring.Current.Signing;
            }
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>The JWKS lists the ring's published keys (public parts only), never a compromised one.</summary>
    public sealed class PublishRingKeys(SigningKeyRing ring) : IOpenIddictServerHandler<OpenIddictServerEvents.HandleJsonWebKeySetRequestContext>
    {
        public ValueTask HandleAsync(OpenIddictServerEvents.HandleJsonWebKeySetRequestContext context)
        {
            context.Keys.Clear();
            foreach (var key in ring.Current.Published.OfType<RsaSecurityKey>())
            {
                // Public parameters only: the private ones must never reach the JWKS.
                var parameters = key.Rsa.ExportParameters(includePrivateParameters: false);
                context.Keys.Add(new JsonWebKey
                {
                    Kty = JsonWebAlgorithmsKeyTypes.RSA,
                    Use = JsonWebKeyUseNames.Sig,
                    Alg = SecurityAlgorithms.RsaSha256,
                    Kid = key.KeyId,
                    E = Base64Url.EncodeToString(parameters.Exponent),
                    N = Base64Url.EncodeToString(parameters.Modulus),
                });
            }
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>The admin API trusts the ring's published keys: a new key at once, a compromised one no more.</summary>
    public sealed class TrustRingKeys(SigningKeyRing ring) : IOpenIddictValidationHandler<OpenIddictValidationEvents.ValidateTokenContext>
    {
        public ValueTask HandleAsync(OpenIddictValidationEvents.ValidateTokenContext context)
        {
            // The parameters are this request's own copy (the built-in step before this one clones them).
            context.TokenValidationParameters.IssuerSigningKeys = ring.Current.Published;
            return ValueTask.CompletedTask;
        }
    }
}
