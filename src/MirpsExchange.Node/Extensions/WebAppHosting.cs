using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Mirps.Auth;
using MirpsExchange.ServiceDefaults;
using MirpsExchange.Web;

namespace MirpsExchange.Node.Extensions;

/// <summary>
/// The web app (src/MirpsExchange.Web) in a node's or the Secretariat's process: it learns the process's
/// audience, issuer, gRPC address and client certificate (over TLS the person's token is bound to it, and the
/// pages call the process's services presenting it).
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
        });
        // Cookies (the person's session, the sign-in flow, anti-forgery) are protected for this node alone. By default the
        // purpose is the install's content root, which every node run from one build shares (devnet), while a browser
        // sends a host's cookies to all its ports: another State's node would take the session for one of its own.
        builder.Services.AddDataProtection().SetApplicationName($"mirps-web {MirpsAuth.NodeAudience(node.Country)}");
        return builder;
    }
}
