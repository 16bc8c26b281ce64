using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Mirps.Auth;
using MirpsExchange.Node.Extensions;

namespace MirpsExchange.UnitTests.Auth;

public class LogKeysTests
{
    [Fact]
    public void The_key_id_is_base64url_of_sha256_over_the_spki_bytes()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var spki = key.ExportSubjectPublicKeyInfo();

        var kid = LogKeys.KeyId(spki);

        Assert.Equal(LogKeys.KeyIdLength, kid.Length);
        Assert.Equal(Convert.ToBase64String(SHA256.HashData(spki)).TrimEnd('=').Replace('+', '-').Replace('/', '_'), kid);
        Assert.Equal("47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", LogKeys.KeyId([])); // SHA-256 of nothing, a fixed vector
    }

    [Fact]
    public void Only_a_P256_public_key_in_its_one_encoding_imports()
    {
        using var p256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var spki = p256.ExportSubjectPublicKeyInfo();
        Assert.True(LogKeys.TryImport(spki, out var imported));
        using (imported)
        {
            var data = "head"u8.ToArray();
            Assert.True(imported!.VerifyData(data, p256.SignData(data, HashAlgorithmName.SHA256), HashAlgorithmName.SHA256));
        }

        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var rsa = RSA.Create(2048);
        var point = p256.ExportParameters(false).Q;
        var refused = new Dictionary<string, byte[]>
        {
            ["empty"] = [],
            ["garbage"] = "not a key"u8.ToArray(),
            ["P-384"] = p384.ExportSubjectPublicKeyInfo(),
            ["RSA"] = rsa.ExportSubjectPublicKeyInfo(),
            ["trailing bytes"] = [.. spki, 0],
            ["truncated"] = spki[..^1],
            ["private key"] = p256.ExportPkcs8PrivateKey(),
            // The same key with a compressed point: another encoding would give the key a second key id.
            ["compressed point"] = Spki([(byte)(2 + (point.Y![^1] & 1)), .. point.X!]),
        };
        foreach (var (name, bytes) in refused)
        {
            Assert.False(LogKeys.TryImport(bytes, out var key), name);
            Assert.Null(key);
        }
    }

    private static byte[] Spki(byte[] point)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            using (writer.PushSequence())
            {
                writer.WriteObjectIdentifier("1.2.840.10045.2.1");
                writer.WriteObjectIdentifier("1.2.840.10045.3.1.7");
            }
            writer.WriteBitString(point);
        }
        return writer.Encode();
    }

    private static PublishedLogKey NewKey(string country, long registered, long? retired = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var spki = key.ExportSubjectPublicKeyInfo();
        return new PublishedLogKey(country, LogKeys.KeyId(spki), spki, DateTimeOffset.FromUnixTimeSeconds(registered),
            retired is { } r ? DateTimeOffset.FromUnixTimeSeconds(r) : null);
    }

    private static readonly RsaSecurityKey Signing = new(RSA.Create(2048)) { KeyId = "identity-key" };
    private const string Issuer = "https://identity.mirps.example/";

    /// <summary>A revocation list signed as the identity server signs it, with <paramref name="logKeys"/> as its log_keys claim (none: no such claim).</summary>
    private static string List(long issuedAt, object? logKeys)
    {
        var claims = new Dictionary<string, object>
        {
            [RevocationListFormat.VersionClaim] = issuedAt, ["iat"] = issuedAt,
            [RevocationListFormat.ClientsClaim] = new Dictionary<string, object>(), [RevocationListFormat.RevokedKeysClaim] = new List<object>(),
        };
        if (logKeys is not null)
        {
            claims[RevocationListFormat.LogKeysClaim] = logKeys;
        }
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            TokenType = RevocationListFormat.TokenType,
            Issuer = Issuer,
            Claims = claims,
            SigningCredentials = new SigningCredentials(Signing, SecurityAlgorithms.RsaSha256),
        });
    }

    [Fact]
    public async Task Log_keys_round_trip_through_the_signed_list_and_a_key_verifies_only_its_own_States_log()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        PublishedLogKey[] keys = [NewKey("PAN", now - 100), NewKey("PAN", now - 50, retired: now - 10), NewKey("CRI", now - 20)];
        var jwt = List(now, RevocationListFormat.WriteLogKeys(keys));

        // The claim as the format in protos/README.md describes it.
        using var payload = JsonDocument.Parse(Base64UrlEncoder.Decode(new JsonWebToken(jwt).EncodedPayload));
        var panama = payload.RootElement.GetProperty("log_keys").GetProperty("PAN");
        Assert.Equal(2, panama.GetArrayLength());
        Assert.Equal(keys[0].KeyId, panama[0].GetProperty("kid").GetString());
        Assert.Equal(keys[0].Spki, Base64UrlEncoder.DecodeBytes(panama[0].GetProperty("spki").GetString()));
        Assert.Equal(now - 100, panama[0].GetProperty("registered").GetInt64());
        Assert.False(panama[0].TryGetProperty("retired", out _));
        Assert.Equal(now - 10, panama[1].GetProperty("retired").GetInt64());

        var list = new RevocationList();
        Assert.Null(await list.TryApplyAsync(jwt, Issuer, [Signing]));

        Assert.True(list.TryGetLogKey("PAN", keys[1].KeyId, out var retired));
        Assert.Equal(keys[1] with { Spki = retired.Spki }, retired);
        Assert.Equal(keys[1].Spki, retired.Spki);
        Assert.True(list.TryGetLogKey("CRI", keys[2].KeyId, out _));
        // Panama's key never verifies Costa Rica's log, nor Costa Rica's Panama's.
        Assert.False(list.TryGetLogKey("CRI", keys[0].KeyId, out var none));
        Assert.Null(none);
        Assert.False(list.TryGetLogKey("PAN", keys[2].KeyId, out _));
        Assert.False(list.TryGetLogKey("PAN", "unknown", out _));
    }

    [Fact]
    public async Task A_retired_key_stays_retired_from_its_first_retirement_and_a_list_without_log_keys_publishes_none()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var key = NewKey("HND", now - 100, retired: now - 30);
        var list = new RevocationList();
        Assert.Null(await list.TryApplyAsync(List(now - 5, null), Issuer, [Signing]));
        Assert.Empty(list.Current.LogKeys);

        Assert.Null(await list.TryApplyAsync(List(now - 4, RevocationListFormat.WriteLogKeys([key])), Issuer, [Signing]));
        // A later list (say, from a store restored from a backup) shows it active again, or retired later: its first retirement stands.
        Assert.Null(await list.TryApplyAsync(List(now - 3, RevocationListFormat.WriteLogKeys([key with { RetiredTime = null }])), Issuer, [Signing]));
        Assert.True(list.TryGetLogKey("HND", key.KeyId, out var held));
        Assert.Equal(key.RetiredTime, held.RetiredTime);
        Assert.Null(await list.TryApplyAsync(List(now - 2, RevocationListFormat.WriteLogKeys([key with { RetiredTime = DateTimeOffset.FromUnixTimeSeconds(now) }])), Issuer, [Signing]));
        Assert.True(list.TryGetLogKey("HND", key.KeyId, out held));
        Assert.Equal(key.RetiredTime, held.RetiredTime);
    }

    [Fact]
    public async Task A_list_publishing_a_key_under_a_key_id_not_its_own_or_a_key_not_P256_is_refused_whole()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var genuine = NewKey("PAN", now - 100);
        var list = new RevocationList();
        Assert.Null(await list.TryApplyAsync(List(now - 10, RevocationListFormat.WriteLogKeys([genuine])), Issuer, [Signing]));
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var other = NewKey("PAN", now - 50);

        var renamed = RevocationListFormat.WriteLogKeys([other with { KeyId = genuine.KeyId }]);
        var weak = JsonSerializer.SerializeToElement(new Dictionary<string, object[]>
        {
            ["PAN"] = [new { kid = LogKeys.KeyId(p384.ExportSubjectPublicKeyInfo()), spki = Base64UrlEncoder.Encode(p384.ExportSubjectPublicKeyInfo()), registered = now }],
        });
        var malformed = JsonSerializer.SerializeToElement(new Dictionary<string, object> { ["PAN"] = "not an array" });

        Assert.Contains("another key id", await list.TryApplyAsync(List(now - 5, renamed), Issuer, [Signing]));
        Assert.Contains("not a P-256 public key", await list.TryApplyAsync(List(now - 4, weak), Issuer, [Signing]));
        Assert.Contains("malformed", await list.TryApplyAsync(List(now - 3, malformed), Issuer, [Signing]));
        Assert.True(list.TryGetLogKey("PAN", genuine.KeyId, out var held));
        Assert.Equal(genuine.Spki, held.Spki);
    }
}
