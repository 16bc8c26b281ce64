using Microsoft.AspNetCore.Server.Kestrel.Core;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Grpc;

public static class GrpcExtensions
{
    /// <summary>
    /// Listens on loopback unless Node:ListenAddress says otherwise (with TLS only). With TLS (Tls:CertificateFile) one
    /// port serves gRPC and HTTP/JSON: ALPN gives gRPC clients HTTP/2 and others HTTP/1.1 if they ask for it. In
    /// cleartext Node:Port is HTTP/2 only (gRPC's prior knowledge fails on a port that also offers HTTP/1.1), and
    /// Node:HttpPort, when set, adds an HTTP/1.1 port for the JSON routes.
    /// </summary>
    public static WebApplicationBuilder ListenForGrpc(this WebApplicationBuilder builder, NodeOptions node, TlsOptions tls)
    {
        var listenAddress = TlsExtensions.ListenAddress(node.ListenAddress, "Node:ListenAddress", tls);
        if (tls.Enabled && node.HttpPort is not null)
        {
            throw new InvalidOperationException(
                "Configuration key Node:HttpPort is for cleartext only: with TLS, Node:Port serves HTTP/1.1 and HTTP/2 (gRPC and HTTP/JSON) on one port; leave Node:HttpPort unset.");
        }
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // The gRPC port is bound first, so it is the first listening address (NodeExtensions.ListeningAddress).
            kestrel.Listen(listenAddress, node.Port, listen =>
            {
                if (tls.Enabled)
                {
                    listen.Protocols = HttpProtocols.Http1AndHttp2;
                }
                else
                {
                    listen.UseHttp2();
                }
                listen.UseTls(tls);
            });
            if (node.HttpPort is { } httpPort)
            {
                kestrel.Listen(listenAddress, httpPort, listen => listen.Protocols = HttpProtocols.Http1);
            }
        });
        return builder;
    }
}
