using Grpc.Core;
using Grpc.Net.Client;
using Mirps.Auth;
using Mirps.Tls;

namespace MirpsExchange.Cli.Federation;

/// <summary>gRPC channels whose calls carry a current access token from a <see cref="TokenClient"/>.</summary>
public static class AuthenticatedChannel
{
    /// <summary>
    /// TLS for https addresses, the server verified against <paramref name="caFile"/> alone when given (else the
    /// machine's trust store); cleartext (tokens included) is allowed only to a loopback address.
    /// </summary>
    public static GrpcChannel Create(Uri address, TokenClient tokens, string? caFile = null) => GrpcChannel.ForAddress(address, new GrpcChannelOptions
    {
        HttpHandler = FederationTrust.CreateHandler(caFile),
        DisposeHttpClient = true,
        Credentials = address.Scheme == "https"
            ? ChannelCredentials.Create(ChannelCredentials.SecureSsl, tokens.ToCallCredentials())
            : ChannelCredentials.Create(ChannelCredentials.Insecure, tokens.ToCallCredentials()),
        UnsafeUseInsecureChannelCallCredentials = address.IsLoopback,
    });
}
