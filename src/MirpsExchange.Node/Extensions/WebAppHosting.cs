using System.Security.Claims;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Mirps.Auth;
using MirpsExchange.ServiceDefaults;
using MirpsExchange.Web;
using OpenIddict.Validation;

namespace MirpsExchange.Node.Extensions;

/// <summary>
/// The web app (src/MirpsExchange.Web) in a node's or the Secretariat's process: it learns the process's
/// audience, issuer, gRPC address and client certificate, and validates a person's token as the services
/// do (OpenIddict's validation of signature, issuer, audience and lifetime, then the revocation list).
/// </summary>
public static class WebAppHosting
{
    public static WebApplicationBuilder AddNodeWebApp(this WebApplicationBuilder builder, NodeOptions node, TlsOptions tls, bool secretariat)
    {
        builder.AddWebApp(new WebHost
        {
            Secretariat = secretariat,
            Country = node.Country,
            Issuer = AuthenticationExtensions.ParseIssuer(node.Issuer),
            Audience = MirpsAuth.NodeAudience(node.Country),
            GrpcAddress = services => services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First(),
            CaFile = tls.CaFile.Length > 0 ? tls.CaFile : null,
            ClientCertificate = node.LoadClientCertificate(tls),
            ValidateToken = ValidateAsync,
        });
        return builder;
    }

    private static async Task<ClaimsPrincipal?> ValidateAsync(IServiceProvider services, string token, CancellationToken cancellationToken)
    {
        try
        {
            var principal = await services.GetRequiredService<OpenIddictValidationService>().ValidateAccessTokenAsync(token, cancellationToken);
            return services.GetRequiredService<RevocationList>().Refuses(principal) ? null : principal;
        }
        catch (OpenIddict.Abstractions.OpenIddictExceptions.ValidationException)
        {
            return null;
        }
    }
}
