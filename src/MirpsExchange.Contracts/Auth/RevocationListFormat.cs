using System.Buffers.Text;
using System.Text.Json;

namespace Mirps.Auth;

/// <summary>
/// The identity server's signed revocation list, part of the public contract like the protos: a JWT
/// signed with its current token-signing key (verified against its JWKS), published at
/// {issuer}<see cref="Path"/>, which every node polls. See protos/README.md, "Revocation".
/// </summary>
public static class RevocationListFormat
{
    /// <summary>Where the list is published, relative to the issuer URL (beside .well-known/jwks).</summary>
    public const string Path = ".well-known/mirps-revocations";

    /// <summary>The JWT's <c>typ</c> header: never an access token's <c>at+jwt</c>, so neither can pass for the other.</summary>
    public const string TokenType = "mirps-revocations+jwt";

    /// <summary>Media type of the response body (RFC 7519 section 10.3.1).</summary>
    public const string MediaType = "application/jwt";

    /// <summary>
    /// A number that only grows: the newest audit event of the identity server when the list was made.
    /// A node refuses a list older than the one it holds (a replay).
    /// </summary>
    public const string VersionClaim = "ver";

    /// <summary>Object: client id to a Unix time in seconds; that client's tokens whose <c>iat</c> is earlier are refused.</summary>
    public const string ClientsClaim = "clients";

    /// <summary>Array of signing key ids ("kid") that are compromised: every token they signed is refused.</summary>
    public const string RevokedKeysClaim = "revoked_keys";

    /// <summary>
    /// Object: country (ISO3) to an array of that origin's log-signing keys, each
    /// <c>{"kid": ..., "spki": base64url DER, "registered": Unix s, "retired": Unix s}</c> (<c>retired</c> only once retired).
    /// Absent from lists of identity servers that predate it: no keys.
    /// </summary>
    public const string LogKeysClaim = "log_keys";

    /// <summary>
    /// Object: country (ISO3) to an array of key ids retired without ever being registered (keys a rotation head
    /// handed over to), each <c>{"kid": ..., "retired": Unix s}</c>. They verify no head; a head signed with one at or
    /// after <c>retired</c> is refused although a verified rotation handed over to it. Its own claim, so that
    /// nodes that predate it ignore it rather than refuse the list. Absent: none.
    /// </summary>
    public const string RetiredLogKeysClaim = "retired_log_keys";

    /// <summary>The <see cref="LogKeysClaim"/> claim's value for <paramref name="keys"/> (those with no public key go in <see cref="WriteRetiredLogKeys"/>).</summary>
    public static JsonElement WriteLogKeys(IEnumerable<PublishedLogKey> keys) => Write(keys.Where(k => k.Spki.Length > 0), withKey: true);

    /// <summary>The <see cref="RetiredLogKeysClaim"/> claim's value: the keys of <paramref name="keys"/> with no public key.</summary>
    public static JsonElement WriteRetiredLogKeys(IEnumerable<PublishedLogKey> keys) => Write(keys.Where(k => k.Spki.Length == 0), withKey: false);

    private static JsonElement Write(IEnumerable<PublishedLogKey> keys, bool withKey)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var country in keys.GroupBy(k => k.Country, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                writer.WriteStartArray(country.Key);
                foreach (var key in country.OrderBy(k => k.RegisteredTime).ThenBy(k => k.KeyId, StringComparer.Ordinal))
                {
                    writer.WriteStartObject();
                    writer.WriteString("kid", key.KeyId);
                    if (withKey)
                    {
                        writer.WriteString("spki", Base64Url.EncodeToString(key.Spki));
                        writer.WriteNumber("registered", key.RegisteredTime.ToUnixTimeSeconds());
                    }
                    if (key.RetiredTime is { } retired)
                    {
                        writer.WriteNumber("retired", retired.ToUnixTimeSeconds());
                    }
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
            }
            writer.WriteEndObject();
        }
        using var document = JsonDocument.Parse(buffer.WrittenMemory);
        return document.RootElement.Clone();
    }

    /// <summary>
    /// The keys a <see cref="LogKeysClaim"/> claim publishes. Throws <see cref="FormatException"/> when it is
    /// malformed, or names a key that is not a P-256 key or whose kid is not its own: the identity server never
    /// publishes such a key, so the whole list is suspect.
    /// </summary>
    public static IReadOnlyList<PublishedLogKey> ReadLogKeys(JsonElement claim)
    {
        if (claim.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"{LogKeysClaim} is not an object");
        }
        var keys = new List<PublishedLogKey>();
        foreach (var country in claim.EnumerateObject())
        {
            if (country.Value.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException($"{LogKeysClaim}.{country.Name} is not an array");
            }
            foreach (var entry in country.Value.EnumerateArray())
            {
                if (entry.ValueKind != JsonValueKind.Object
                    || !entry.TryGetProperty("kid", out var kid) || kid.ValueKind != JsonValueKind.String
                    || !entry.TryGetProperty("spki", out var spkiText) || spkiText.ValueKind != JsonValueKind.String
                    || !entry.TryGetProperty("registered", out var registered) || !registered.TryGetInt64(out var registeredAt))
                {
                    throw new FormatException($"a key of {country.Name} in {LogKeysClaim} lacks kid, spki or registered");
                }
                long? retiredAt = null;
                if (entry.TryGetProperty("retired", out var retired))
                {
                    retiredAt = retired.TryGetInt64(out var at) ? at : throw new FormatException($"the key {kid.GetString()} has a retired time that is not a number");
                }
                var spki = Base64Url.DecodeFromChars(spkiText.GetString());
                if (!LogKeys.TryImport(spki, out var key))
                {
                    throw new FormatException($"the key {kid.GetString()} of {country.Name} is not a P-256 public key");
                }
                key!.Dispose();
                if (LogKeys.KeyId(spki) != kid.GetString())
                {
                    throw new FormatException($"the key {kid.GetString()} of {country.Name} has another key id ({LogKeys.KeyId(spki)})");
                }
                keys.Add(new PublishedLogKey(country.Name, kid.GetString()!, spki, Time(registeredAt), retiredAt is { } r ? Time(r) : null));
            }
        }
        return keys;
    }

    /// <summary>
    /// The keys a <see cref="RetiredLogKeysClaim"/> claim retires, each with no public key and registered at its
    /// retirement. Throws <see cref="FormatException"/> when it is malformed.
    /// </summary>
    public static IReadOnlyList<PublishedLogKey> ReadRetiredLogKeys(JsonElement claim)
    {
        if (claim.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"{RetiredLogKeysClaim} is not an object");
        }
        var keys = new List<PublishedLogKey>();
        foreach (var country in claim.EnumerateObject())
        {
            if (country.Value.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException($"{RetiredLogKeysClaim}.{country.Name} is not an array");
            }
            foreach (var entry in country.Value.EnumerateArray())
            {
                if (entry.ValueKind != JsonValueKind.Object
                    || !entry.TryGetProperty("kid", out var kid) || kid.ValueKind != JsonValueKind.String
                    || !entry.TryGetProperty("retired", out var retired) || !retired.TryGetInt64(out var retiredAt))
                {
                    throw new FormatException($"a key of {country.Name} in {RetiredLogKeysClaim} lacks kid or retired");
                }
                keys.Add(new PublishedLogKey(country.Name, kid.GetString()!, [], Time(retiredAt), Time(retiredAt)));
            }
        }
        return keys;
    }

    private static DateTimeOffset Time(long unixSeconds) =>
        unixSeconds is >= 0 and <= 253402300799 ? DateTimeOffset.FromUnixTimeSeconds(unixSeconds) : throw new FormatException($"{unixSeconds} is not a time in Unix seconds");
}
