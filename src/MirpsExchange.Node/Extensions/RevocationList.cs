using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Mirps.Auth;

namespace MirpsExchange.Node.Extensions;

/// <summary>
/// The identity server's revocation list as this node last verified it (see <see cref="RevocationListFormat"/>):
/// credentials cut off at a time, signing keys compromised. <see cref="Refuses"/> runs on every call,
/// cached token or not, and costs a dictionary lookup or two; nothing at all while the list is empty.
/// A list is taken only when it verifies against the identity server's published keys and is not older
/// than the one held, so a replayed old list cannot bring back what a newer one cut off. "Older" is by
/// signing time first and version second: a version (the newest audit record) starts again lower when
/// the identity server's store is restored from a backup, and the lists it then signs must still be taken.
/// </summary>
public sealed class RevocationList(TimeProvider? clock = null)
{
    /// <summary>How far ahead of this node's clock a list's signing time may be (the identity server's clock may run ahead a little).</summary>
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(5);

    /// <summary>Private claim the node adds to a validated token's principal: the id of the key that verified its signature.</summary>
    public const string SigningKeyClaim = "mirps_signing_kid";

    private volatile Snapshot _current = Snapshot.Empty;

    public Snapshot Current => _current;

    /// <summary>True when the token behind <paramref name="principal"/> must be refused: its signing key is compromised, or its client was cut off after it was issued.</summary>
    public bool Refuses(ClaimsPrincipal principal)
    {
        var list = _current;
        if (list.CompromisedKeys.Count > 0)
        {
            // A principal without the key claim was not verified by this node's validation: refuse it rather than guess.
            if (principal.FindFirst(SigningKeyClaim)?.Value is not { } kid || list.CompromisedKeys.Contains(kid))
            {
                return true;
            }
        }
        if (list.ClientCutoffs.Count > 0 && principal.FindFirst("sub")?.Value is { } subject && list.ClientCutoffs.TryGetValue(subject, out var cutoff))
        {
            return !(principal.FindFirst("iat")?.Value is { } iat && long.TryParse(iat, out var issued) && issued >= cutoff);
        }
        return false;
    }

    /// <summary>
    /// The log-signing key <paramref name="keyId"/> of the State <paramref name="origin"/> (ISO3) as last
    /// published, retired ones included (<see cref="PublishedLogKey.RetiredTime"/>). False when no such key is
    /// published, or when it is another State's: one State's key never verifies another State's log. A replica
    /// that meets an unknown key id calls <see cref="RefreshSoon"/> and asks again once the list is fetched.
    /// </summary>
    public bool TryGetLogKey(string origin, string keyId, [MaybeNullWhen(false)] out PublishedLogKey key)
    {
        if (_current.LogKeys.TryGetValue(keyId, out var found) && string.Equals(found.Country, origin, StringComparison.Ordinal))
        {
            key = found;
            return true;
        }
        key = null;
        return false;
    }

    /// <summary>Shortest time between two fetches <see cref="RefreshSoon"/> asks for.</summary>
    public static readonly TimeSpan MinRefreshInterval = TimeSpan.FromSeconds(2);

    private TaskCompletionSource _refreshRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Asks the poller to fetch the list now rather than at its next interval (at most one such fetch every
    /// <see cref="MinRefreshInterval"/>, however often it is asked); returns at once. For a replica that
    /// meets a log key id it does not know yet.
    /// </summary>
    public void RefreshSoon() => Volatile.Read(ref _refreshRequested).TrySetResult();

    /// <summary>Completes when <see cref="RefreshSoon"/> is called after the last <see cref="TakeRefreshRequest"/>.</summary>
    internal Task RefreshRequested => Volatile.Read(ref _refreshRequested).Task;

    /// <summary>The poller is about to fetch: requests made until now are served by that fetch.</summary>
    internal void TakeRefreshRequest()
    {
        if (Volatile.Read(ref _refreshRequested).Task.IsCompleted)
        {
            Volatile.Write(ref _refreshRequested, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }
    }

    /// <summary>
    /// Verifies <paramref name="jwt"/> against <paramref name="keys"/> (the identity server's JWKS, fetched
    /// now; keys the held list names compromised are not trusted) and takes it when it is not older than
    /// the list held. Returns null when taken, else why not; the held list then stays in force.
    /// </summary>
    public async Task<string?> TryApplyAsync(string jwt, string issuer, IEnumerable<SecurityKey> keys)
    {
        var held = _current;
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(jwt, new TokenValidationParameters
        {
            ValidIssuer = issuer,
            ValidTypes = [RevocationListFormat.TokenType],
            IssuerSigningKeys = [.. keys.Where(k => !held.CompromisedKeys.Contains(k.KeyId ?? ""))],
            ValidateAudience = false,
            // No expiry: a node keeps the last list it verified for as long as the identity server is unreachable.
            ValidateLifetime = false,
            RequireExpirationTime = false,
        });
        if (!result.IsValid || result.SecurityToken is not JsonWebToken token)
        {
            return $"it does not verify ({result.Exception?.GetType().Name ?? "no token"}: {result.Exception?.Message})";
        }
        Snapshot next;
        try
        {
            next = Parse(Base64UrlEncoder.Decode(token.EncodedPayload), held);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or KeyNotFoundException)
        {
            return $"its content is malformed ({e.Message})";
        }
        // Not dated ahead of this node's clock (beyond a clock skew): a list signed with a key stolen before it was
        // rolled and dated far ahead would otherwise outrank every genuine list that follows.
        var now = (clock ?? TimeProvider.System).GetUtcNow();
        if (next.IssuedAt > (now + MaxClockSkew).ToUnixTimeSeconds())
        {
            return $"it is dated {next.IssuedAt}, ahead of this node's clock ({now.ToUnixTimeSeconds()}) by more than {MaxClockSkew.TotalMinutes:0} minutes";
        }
        // A held list dated ahead of this clock (one signed with a stolen key, within the skew allowed) must not
        // outrank the genuine lists that follow the roll: it counts as signed a clock skew ago.
        var heldAt = held.IssuedAt > now.ToUnixTimeSeconds() ? (now - MaxClockSkew).ToUnixTimeSeconds() : held.IssuedAt;
        if (next.IssuedAt < heldAt || (next.IssuedAt == heldAt && next.Version < held.Version))
        {
            return $"it is older (version {next.Version}, issued {next.IssuedAt}) than the list held (version {held.Version}, issued {held.IssuedAt}): a replay";
        }
        _current = next;
        ConfirmedAt = now;
        _confirmed.TrySetResult();
        return null;
    }

    /// <summary>When a list last verified (this one or an unchanged one fetched again), or null: none since the node started.</summary>
    public DateTimeOffset? ConfirmedAt { get; private set; }

    private readonly TaskCompletionSource _confirmed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when a list first verifies after the node started (<see cref="ConfirmedAt"/> set).</summary>
    public Task FirstConfirmed => _confirmed.Task;

    private static Snapshot Parse(string payload, Snapshot held)
    {
        using var document = JsonDocument.Parse(payload);
        var root = document.RootElement;
        var clients = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var client in root.GetProperty(RevocationListFormat.ClientsClaim).EnumerateObject())
        {
            clients[client.Name] = client.Value.GetInt64();
        }
        // A key once compromised stays refused for the life of this process, whatever a later list says.
        var keys = new HashSet<string>(held.CompromisedKeys, StringComparer.Ordinal);
        foreach (var key in root.GetProperty(RevocationListFormat.RevokedKeysClaim).EnumerateArray())
        {
            keys.Add(key.GetString() ?? throw new FormatException("a revoked key id is not a string"));
        }
        var logKeys = new Dictionary<string, PublishedLogKey>(StringComparer.Ordinal);
        IEnumerable<PublishedLogKey> listed = root.TryGetProperty(RevocationListFormat.LogKeysClaim, out var published) ? RevocationListFormat.ReadLogKeys(published) : [];
        if (root.TryGetProperty(RevocationListFormat.RetiredLogKeysClaim, out var retiredOnly))
        {
            listed = listed.Concat(RevocationListFormat.ReadRetiredLogKeys(retiredOnly)); // no public key: they verify nothing, retire handed-over keys
        }
        foreach (var key in listed)
        {
            // A key once retired stays retired from its first retirement time, whatever a later list says.
            logKeys[key.KeyId] = held.LogKeys.TryGetValue(key.KeyId, out var was) && was.RetiredTime is { } retired && !(key.RetiredTime <= retired)
                ? key with { RetiredTime = retired }
                : key;
        }
        return new Snapshot(
            root.GetProperty(RevocationListFormat.VersionClaim).GetInt64(),
            root.GetProperty("iat").GetInt64(),
            clients.ToFrozenDictionary(StringComparer.Ordinal),
            keys.ToFrozenSet(StringComparer.Ordinal),
            logKeys.ToFrozenDictionary(StringComparer.Ordinal));
    }

    /// <param name="Version">The list's version (it only grows); 0 before any list.</param>
    /// <param name="IssuedAt">When the identity server signed it (Unix seconds).</param>
    /// <param name="ClientCutoffs">Client id to the Unix time before which its tokens are refused.</param>
    /// <param name="CompromisedKeys">Signing key ids whose tokens are refused.</param>
    /// <param name="LogKeys">The States' log-signing keys by key id (look them up with <see cref="TryGetLogKey"/>, which checks the State).</param>
    public sealed record Snapshot(long Version, long IssuedAt, FrozenDictionary<string, long> ClientCutoffs, FrozenSet<string> CompromisedKeys,
        FrozenDictionary<string, PublishedLogKey> LogKeys)
    {
        public static Snapshot Empty { get; } = new(0, 0, FrozenDictionary<string, long>.Empty, FrozenSet<string>.Empty, FrozenDictionary<string, PublishedLogKey>.Empty);
    }
}
