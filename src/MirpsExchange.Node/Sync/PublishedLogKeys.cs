using System.Collections.Concurrent;
using System.Security.Cryptography;
using Mirps.Auth;
using MirpsExchange.Node.Extensions;

namespace MirpsExchange.Node.Sync;

/// <summary>
/// The log-signing keys the identity server publishes in its signed revocation list (<see cref="RevocationList"/>),
/// as <see cref="ChainVerifier"/> asks for them. A retired key verifies only heads it signed before its retirement.
/// </summary>
public sealed class PublishedLogKeys(RevocationList list) : ILogKeys
{
    private readonly ConcurrentDictionary<string, ECDsa> _imported = new(StringComparer.Ordinal);

    public ECDsa? Find(string origin, string keyId, DateTimeOffset signedTime)
    {
        if (!list.TryGetLogKey(origin, keyId, out var published) || published.RetiredTime is { } retired && signedTime >= retired)
        {
            return null;
        }
        if (_imported.TryGetValue(keyId, out var key))
        {
            return key;
        }
        return LogKeys.TryImport(published.Spki, out var imported) && imported is not null ? _imported.GetOrAdd(keyId, imported) : null;
    }

    public void RefreshSoon() => list.RefreshSoon();

    public Task FirstFetch => list.FirstConfirmed;

    public bool RetiredBefore(string origin, string keyId, DateTimeOffset signedTime) =>
        list.TryGetLogKey(origin, keyId, out var published) && published.RetiredTime is { } retired && signedTime >= retired;
}
