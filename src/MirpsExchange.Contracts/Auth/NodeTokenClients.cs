using System.Collections.Concurrent;

namespace Mirps.Auth;

/// <summary>
/// One <see cref="TokenClient"/> per node a client calls, each asking for that node's audience only
/// (<see cref="MirpsAuth.NodeAudience"/>), so a client of several nodes caches one token per node and
/// never hands one node a token another would accept.
/// </summary>
public sealed class NodeTokenClients(HttpClient http, Uri tokenEndpoint, ClientCredential credential, string scope) : IDisposable
{
    private readonly ConcurrentDictionary<string, TokenClient> _clients = new(StringComparer.Ordinal);

    /// <summary>The client for the node of <paramref name="country"/> (ISO3), or of the Secretariat for null, "" or "secretariat".</summary>
    public TokenClient For(string? country) =>
        _clients.GetOrAdd(MirpsAuth.NodeAudience(country), audience => new TokenClient(http, tokenEndpoint, credential, scope, audience));

    public void Dispose()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }
    }
}
