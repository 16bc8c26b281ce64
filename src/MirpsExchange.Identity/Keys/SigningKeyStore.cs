using System.Globalization;
using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Identity.Keys;

/// <summary>
/// Persisted RSA keys in {DataDirectory}/keys, readable only by the server's user. The newest signing
/// key signs; older ones stay published in the JWKS until every token they signed has expired, then
/// are deleted. A new signing key is made when the newest is older than the rollover period.
/// A key marked compromised (<see cref="RollCompromised"/>) leaves a marker file compromised-{kid}
/// holding the time; its private key is deleted and never loaded again.
/// </summary>
public sealed class SigningKeyStore(string folder, TimeProvider clock)
{
    private const string SigningPrefix = "signing-";
    private const string CompromisedPrefix = "compromised-";

    public string Folder => folder;

    /// <summary>Signing keys, newest (the one that signs) first.</summary>
    public IReadOnlyList<RsaSecurityKey> LoadSigningKeys(TimeSpan rollover, TimeSpan tokenLifetime)
    {
        Directory.CreateDirectory(folder);
        var now = clock.GetUtcNow();
        var compromised = LoadCompromised().Select(k => k.KeyId).ToHashSet(StringComparer.Ordinal);
        var keys = new List<(string Path, DateTimeOffset Created)>();
        foreach (var key in Files())
        {
            if (compromised.Contains(Path.GetFileNameWithoutExtension(key.Path)))
            {
                File.Delete(key.Path); // marked compromised but not yet deleted (a stop between the two steps)
                continue;
            }
            keys.Add(key);
        }
        if (keys.Count == 0 || now - keys[0].Created >= rollover)
        {
            keys.Insert(0, (Create(now), now));
        }
        // A key retires once the key after it has signed for longer than a token lives (plus clock skew).
        var published = new List<RsaSecurityKey>();
        for (var i = 0; i < keys.Count; i++)
        {
            var (path, _) = keys[i];
            if (i > 0 && now - keys[i - 1].Created > tokenLifetime + TimeSpan.FromMinutes(5))
            {
                File.Delete(path);
                continue;
            }
            published.Add(Read(path));
        }
        return published;
    }

    /// <summary>Makes a new signing key now (an early rollover, for example after a suspected leak of the old one).</summary>
    public string Rollover() => Create(clock.GetUtcNow());

    /// <summary>
    /// Marks <paramref name="keyId"/> compromised (a marker file first, so a stop half-way leaves the key
    /// refused, never trusted), makes a new signing key, then deletes the compromised private key.
    /// </summary>
    /// <returns>The new signing key.</returns>
    public RsaSecurityKey RollCompromised(IReadOnlyCollection<string> keyIds, DateTimeOffset time)
    {
        foreach (var keyId in keyIds)
        {
            if (keyId.Length == 0 || keyId.IndexOfAny(['/', '\\']) >= 0 || keyId.StartsWith('.'))
            {
                throw new ArgumentException($"Not a signing key id: '{keyId}'.", nameof(keyIds));
            }
        }
        foreach (var keyId in keyIds)
        {
            OwnerOnlyFile.WriteAllText(Path.Combine(folder, CompromisedPrefix + keyId), time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        }
        var created = Read(Create(time));
        foreach (var keyId in keyIds)
        {
            File.Delete(Path.Combine(folder, keyId + ".pem"));
        }
        return created;
    }

    /// <summary>The key ids marked compromised, with the time each was marked; kept for good (a marker is a few bytes).</summary>
    public IReadOnlyList<(string KeyId, DateTimeOffset Time)> LoadCompromised()
    {
        Directory.CreateDirectory(folder);
        return [.. Directory.EnumerateFiles(folder, CompromisedPrefix + "*")
            .Select(path => (Path.GetFileName(path)[CompromisedPrefix.Length..],
                DateTimeOffset.Parse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal)))
            .OrderBy(k => k.Item2)];
    }

    /// <summary>The key OpenIddict requires for encryption (access tokens are signed, not encrypted).</summary>
    public RsaSecurityKey LoadEncryptionKey()
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "encryption.pem");
        if (!File.Exists(path))
        {
            Write(path);
        }
        return Read(path);
    }

    private IEnumerable<(string Path, DateTimeOffset Created)> Files() =>
        Directory.EnumerateFiles(folder, $"{SigningPrefix}*.pem")
            .Select(path => (Path: path, Created: DateTimeOffset.ParseExact(Path.GetFileNameWithoutExtension(path)[SigningPrefix.Length..][..15], "yyyyMMdd'T'HHmmss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal)))
            .OrderByDescending(k => k.Path, StringComparer.Ordinal);

    private string Create(DateTimeOffset now)
    {
        var path = Path.Combine(folder, $"{SigningPrefix}{now.UtcDateTime:yyyyMMdd'T'HHmmss}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}.pem");
        Write(path);
        return path;
    }

    private static void Write(string path)
    {
        using var rsa = RSA.Create(2048);
        OwnerOnlyFile.WriteAllText(path, rsa.ExportPkcs8PrivateKeyPem());
    }

    private static RsaSecurityKey Read(string path)
    {
        var rsa = RSA.Create();
        rsa.ImportFromPem(File.ReadAllText(path));
        // The key id is the file's name: stable across restarts, different for every key.
        return new RsaSecurityKey(rsa) { KeyId = Path.GetFileNameWithoutExtension(path) };
    }
}
