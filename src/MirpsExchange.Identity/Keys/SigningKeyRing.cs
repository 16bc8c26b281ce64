using System.Collections.Frozen;
using Microsoft.IdentityModel.Tokens;

namespace MirpsExchange.Identity.Keys;

/// <summary>
/// The signing keys in use, replaceable while the server runs: the key that signs, the keys the JWKS
/// publishes, and the keys marked compromised. Readers take one immutable <see cref="Snapshot"/> per
/// use, so a roll never shows a request half of it (OpenIddict's own option lists are plain lists that
/// must not change under concurrent requests; <see cref="SigningKeyRingHandlers"/> read this instead).
/// </summary>
public sealed class SigningKeyRing
{
    private readonly Lock _gate = new();
    private volatile Snapshot _current;

    /// <param name="keys">Signing keys, the one that signs first (as <see cref="SigningKeyStore.LoadSigningKeys"/> returns them).</param>
    public SigningKeyRing(IReadOnlyList<RsaSecurityKey> keys, IReadOnlyList<(string KeyId, DateTimeOffset Time)> compromised) =>
        _current = new Snapshot(Sign(keys[0]), [.. keys], compromised);

    public Snapshot Current => _current;

    /// <summary>
    /// Marks every published key compromised, the one that signs now first: a new key signs from this
    /// moment and is the only one published; the old ones leave the JWKS at once and join the compromised
    /// ones (which the revocation list names). All of them, not the signing one alone: whoever took the key
    /// folder (or a backup of it) holds the previous key too, which stays published for a while after a
    /// scheduled rollover and would still sign tokens the nodes accept.
    /// </summary>
    /// <returns>The key that signed until now, every key marked, and the key that signs from now on.</returns>
    public (string Compromised, IReadOnlyList<string> AllCompromised, string Signing) RollCompromised(SigningKeyStore store, DateTimeOffset now)
    {
        lock (_gate)
        {
            var old = _current;
            List<string> compromised = [old.Signing.Kid, .. old.Published.Select(k => k.KeyId).Where(kid => kid != old.Signing.Kid)];
            var created = store.RollCompromised(compromised, now);
            _current = new Snapshot(Sign(created), [created], [.. old.Compromised, .. compromised.Select(kid => (kid, now))]);
            return (compromised[0], compromised, created.KeyId);
        }
    }

    private static SigningCredentials Sign(RsaSecurityKey key) => new(key, SecurityAlgorithms.RsaSha256);

    /// <param name="Signing">What signs access tokens and the revocation list.</param>
    /// <param name="Published">What the JWKS publishes and the server's own validation trusts; never a compromised key.</param>
    /// <param name="Compromised">Key ids marked compromised, oldest first, with the time.</param>
    public sealed record Snapshot(SigningCredentials Signing, IReadOnlyList<SecurityKey> Published, IReadOnlyList<(string KeyId, DateTimeOffset Time)> Compromised)
    {
        public FrozenSet<string> CompromisedIds { get; } = Compromised.Select(k => k.KeyId).ToFrozenSet(StringComparer.Ordinal);
    }
}
