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
    /// Marks the key that signs now compromised: a new key signs from this moment, the old one leaves the
    /// published keys at once and joins the compromised ones (which the revocation list names).
    /// </summary>
    public (string Compromised, string Signing) RollCompromised(SigningKeyStore store, DateTimeOffset now)
    {
        lock (_gate)
        {
            var old = _current;
            var compromised = old.Signing.Kid;
            var created = store.RollCompromised(compromised, now);
            _current = new Snapshot(Sign(created), [created, .. old.Published.Where(k => k.KeyId != compromised)], [.. old.Compromised, (compromised, now)]);
            return (compromised, created.KeyId);
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
