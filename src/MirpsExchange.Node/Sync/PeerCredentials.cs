using Microsoft.Extensions.Options;
using Mirps.Auth;
using Mirps.Tls;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Sync;

/// <summary>
/// What the node presents to its peers and the identity server: its client certificate (over TLS), one HTTP client to the
/// identity server, and one cached token per peer node (<see cref="NodeTokenClients"/>). Shared by the pulls
/// (<see cref="PeerSyncWorker"/>) and the start-up recovery check (<see cref="OriginRecovery"/>), so a node asks for each
/// peer's token once at start, and <see cref="Prefetch"/> asks for them while the store is migrated: neither the check nor
/// the first pull then waits for the identity server. Made on first use; only with Node:Peers (a credential is then required).
/// </summary>
public sealed partial class PeerCredentials : IDisposable
{
    private readonly HttpClient _http;
    private readonly NodeTokenClients _tokens;
    private readonly NodeOptions _node;

    public PeerCredentials(IOptions<NodeOptions> options, IOptions<TlsOptions> tls)
    {
        _node = options.Value;
        Certificate = _node.LoadClientCertificate(tls.Value);
        _http = new HttpClient(FederationTrust.CreateHandler(tls.Value.CaFile, Certificate));
        _tokens = new NodeTokenClients(_http, new Uri(new Uri(_node.Issuer), MirpsAuth.TokenEndpointPath), ClientCredential.Load(_node.Credential!), MirpsAuth.ReadScope);
    }

    /// <summary>Over TLS, the node's client certificate (tokens are bound to it); null in cleartext.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate { get; }

    /// <summary>The token client for the node of <paramref name="country"/> (a token is good at one node only).</summary>
    public TokenClient For(string country) => _tokens.For(country);

    /// <summary>
    /// Asks, in the background, for a token for every peer node (each cached until shortly before it expires). A failure is
    /// only logged at Debug level: the first call that needs the token asks again, and reports what it gets.
    /// </summary>
    public void Prefetch(ILogger logger, CancellationToken cancellationToken)
    {
        foreach (var country in _node.Peers.Select(p => p.Country).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            _ = Task.Run(async () =>
            {
                try
                {
                    await For(country).GetTokenAsync(cancellationToken);
                }
                catch (Exception e)
                {
                    LogPrefetchFailed(logger, country, e.Message);
                }
            }, CancellationToken.None);
        }
    }

    public void Dispose()
    {
        _tokens.Dispose();
        _http.Dispose();
        Certificate?.Dispose();
    }

    [LoggerMessage(EventName = "PeerTokenPrefetchFailed", Level = LogLevel.Debug, Message = "The token for {Country}'s node was not fetched at start ({Reason}); the first call asks again")]
    private static partial void LogPrefetchFailed(ILogger logger, string country, string reason);
}
