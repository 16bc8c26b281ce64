using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Grpc;

public static class GrpcExtensions
{
    /// <summary>
    /// Listens on loopback unless Node:ListenAddress says otherwise (with TLS only); HTTPS (still HTTP/2 only:
    /// the node speaks nothing but gRPC) when Tls:CertificateFile is set.
    /// </summary>
    public static WebApplicationBuilder ListenForGrpc(this WebApplicationBuilder builder, NodeOptions node, TlsOptions tls)
    {
        var listenAddress = TlsExtensions.ListenAddress(node.ListenAddress, "Node:ListenAddress", tls);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(listenAddress, node.Port, listen =>
        {
            listen.UseHttp2();
            listen.UseTls(tls);
        }));
        return builder;
    }
}
