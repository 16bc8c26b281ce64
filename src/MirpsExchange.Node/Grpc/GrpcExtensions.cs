using Microsoft.AspNetCore.Server.Kestrel.Core;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Grpc;

public static class GrpcExtensions
{
    /// <summary>
    /// Listens on loopback unless Node:ListenAddress says otherwise (with TLS only). Cleartext: HTTP/2 only (gRPC over h2c
    /// fails on an endpoint that also offers HTTP/1.1). HTTPS when Tls:CertificateFile is set: HTTP/2 and HTTP/1.1, chosen by
    /// ALPN, so gRPC and HTTP/1.1 clients (SDMX REST from R, .Stat, curl) share the port. Node:HttpPort adds an endpoint for
    /// HTTP/1.1 clients beside it: in cleartext the only way to reach the node's HTTP resources over HTTP/1.1.
    /// </summary>
    public static WebApplicationBuilder ListenForGrpc(this WebApplicationBuilder builder, NodeOptions node, TlsOptions tls)
    {
        var listenAddress = TlsExtensions.ListenAddress(node.ListenAddress, "Node:ListenAddress", tls);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(listenAddress, node.Port, listen =>
            {
                listen.Protocols = tls.Enabled ? HttpProtocols.Http1AndHttp2 : HttpProtocols.Http2;
                listen.UseTls(tls);
            });
            if (node.HttpPort is { } httpPort)
            {
                kestrel.Listen(listenAddress, httpPort, listen =>
                {
                    listen.Protocols = tls.Enabled ? HttpProtocols.Http1AndHttp2 : HttpProtocols.Http1;
                    listen.UseTls(tls);
                });
            }
        });
        return builder;
    }
}
