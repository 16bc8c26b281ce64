using Grpc.Core;
using Grpc.Net.Client;
using Mirps.Auth;

namespace MirpsExchange.Cli.Federation;

/// <summary>gRPC channels whose calls carry a current access token from a <see cref="TokenClient"/> or a person's login (<see cref="LoginTokens"/>).</summary>
public static class AuthenticatedChannel
{
    /// <summary>
    /// TLS for https addresses, the server verified against the CA of <paramref name="tls"/> alone when given (else the
    /// machine's trust store) and its client certificate presented; cleartext (tokens included) is allowed only to a loopback address.
    /// </summary>
    public static GrpcChannel Create(Uri address, IAccessTokenSource tokens, ClientTls? tls = null) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        HttpHandler = (tls ?? ClientTls.None).CreateHandler(),
        DisposeHttpClient = true,
        Credentials = address.Scheme == "https"
            ? ChannelCredentials.Create(ChannelCredentials.SecureSsl, tokens.ToCallCredentials())
            : ChannelCredentials.Create(ChannelCredentials.Insecure, tokens.ToCallCredentials()),
        UnsafeUseInsecureChannelCallCredentials = address.IsLoopback,
    });
}
