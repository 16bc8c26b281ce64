using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MirpsExchange.Node.ChangeLog;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Store;

/// <summary>
/// What a restore trusts a backup's manifest with (hostile review A3): the key the manifest must be signed with, and whether
/// a backup from before signed manifests is accepted.
/// </summary>
/// <param name="KeyFile">The State's log-signing key: its key file (log-signing-key-pan.pem, whose .pub.pem and retired keys
/// beside it count too) or its published public key (.pub.pem). Null: the key file beside the SQLite store restored.</param>
/// <param name="AcceptUnsigned">Restore a backup whose manifest carries no signature (made before this release): the
/// operator vouches for where it was kept. A manifest that carries one is verified all the same.</param>
public sealed record BackupTrust(string? KeyFile = null, bool AcceptUnsigned = false);

/// <summary>
/// The signature of a backup's manifest (hostile review A3). <c>mirps backup</c> signs the manifest (party, provider, log
/// head, catalogue, created time, the SHA-256 of the store or dump in the zip) with the node's log-signing key, the key that
/// signs its log heads (ECDSA P-256; the Secretariat's is the key that signs its decision log). <c>mirps restore</c> verifies it with that node's key before it reads anything else of the
/// backup: a manifest edited by hand, a store swapped under a valid manifest (the SHA-256 it signs), or a manifest signed
/// with another State's key is refused, and nothing is overwritten.
/// </summary>
public static class BackupSignature
{
    /// <summary>Domain separation: these bytes are a backup manifest's, never a log head's.</summary>
    private const string Domain = "mirps-backup-manifest\n";

    /// <summary>The key file a node keeps beside its SQLite store in its data folder: its log-signing key (the Secretariat's signs its decision log).</summary>
    public static string KeyFileBeside(string store, string party) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(store))!, $"log-signing-key-{party.ToLowerInvariant()}.pem");

    /// <summary>The bytes a manifest's signature covers: every field but the signature, each with its length, after a domain prefix.</summary>
    internal static byte[] SignedBytes(BackupManifest manifest)
    {
        var text = new StringBuilder(Domain);
        void Field(string name, string value) => text.Append(CultureInfo.InvariantCulture, $"{name}={value.Length}:{value}\n");
        Field("format", manifest.Format.ToString(CultureInfo.InvariantCulture));
        Field("party", manifest.Country);
        Field("provider", manifest.ProviderName);
        Field("head_sequence", manifest.HeadSequence.ToString(CultureInfo.InvariantCulture));
        Field("head_hash", manifest.HeadHash);
        Field("catalogue_version", manifest.CatalogueVersion);
        Field("created", manifest.Created.UtcTicks.ToString(CultureInfo.InvariantCulture));
        Field("sha256", manifest.Sha256);
        Field("key_id", manifest.KeyId ?? "");
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>
    /// Signs <paramref name="manifest"/> with the private key in <paramref name="keyFile"/> (owner-only). The key must exist:
    /// every node, the Secretariat's included, makes it at its first start.
    /// </summary>
    public static BackupManifest Sign(BackupManifest manifest, string keyFile)
    {
        keyFile = Path.GetFullPath(keyFile);
        if (!File.Exists(keyFile))
        {
            throw new BackupRefusedException($"no log-signing key of {manifest.Country}'s node at {keyFile}: a backup is signed with the node's log-signing key " +
                "(Node:LogSigningKeyFile); name it with --log-key");
        }
        using var key = LoadKey(keyFile);
        var signed = manifest with { KeyId = Mirps.Auth.LogKeys.KeyId(key.ExportSubjectPublicKeyInfo()), Signature = null };
        return signed with { Signature = Convert.ToBase64String(key.SignData(SignedBytes(signed), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)) };
    }

    /// <summary>
    /// Verifies the signature of the manifest of <paramref name="backup"/> with <paramref name="keyFile"/> and the keys beside it
    /// (its public half, the keys a rotation retired); refuses a manifest without one unless <see cref="BackupTrust.AcceptUnsigned"/>.
    /// Returns whether the manifest was signed.
    /// </summary>
    /// <exception cref="BackupRefusedException">Not signed (and not accepted), no key to verify with, signed with another key, or altered since.</exception>
    internal static bool Verify(BackupManifest manifest, string backup, string keyFile, bool acceptUnsigned)
    {
        if (manifest.Signature is not { Length: > 0 } signature)
        {
            return acceptUnsigned ? false : throw new BackupRefusedException($"{backup}: its manifest is not signed (a backup made before this release, or its signature removed), " +
                "so nothing shows that it is the node's own backup, unaltered; restore it only if you trust where it was kept, with --accept-unsigned; nothing was restored");
        }
        var keys = new Dictionary<string, ECDsa>(StringComparer.Ordinal);
        try
        {
            foreach (var file in Candidates(Path.GetFullPath(keyFile)))
            {
                var key = LoadKey(file);
                if (!keys.TryAdd(Mirps.Auth.LogKeys.KeyId(key.ExportSubjectPublicKeyInfo()), key))
                {
                    key.Dispose();
                }
            }
            if (keys.Count == 0)
            {
                throw new BackupRefusedException($"{backup} cannot be verified: there is no key of {manifest.Country}'s node at {keyFile} to verify its manifest's signature with; " +
                    "name the node's log-signing key with --log-key (its key file, or the State's published public key, log-signing-key-COUNTRY.pub.pem); nothing was restored");
            }
            if (manifest.KeyId is not { } keyId || !keys.TryGetValue(keyId, out var signer))
            {
                throw new BackupRefusedException($"{backup}: its manifest is signed with another key than {manifest.Country}'s node's ({string.Join(", ", keys.Keys)}, from {keyFile}): " +
                    "it was made or re-signed by another party; nothing was restored");
            }
            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(signature);
            }
            catch (FormatException)
            {
                bytes = [];
            }
            if (!signer.VerifyData(SignedBytes(manifest with { Signature = null }), bytes, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
            {
                throw new BackupRefusedException($"{backup}: its manifest's signature does not verify with {manifest.Country}'s node's key {keyId}: the manifest was altered after it was signed; nothing was restored");
            }
            return true;
        }
        finally
        {
            foreach (var key in keys.Values)
            {
                key.Dispose();
            }
        }
    }

    /// <summary>The key files that exist among <paramref name="keyFile"/>, its public half and the keys a rotation retired beside it.</summary>
    private static IEnumerable<string> Candidates(string keyFile)
    {
        var folder = Path.GetDirectoryName(keyFile)!;
        var files = new List<string> { keyFile, LogSigner.PublicKeyFile(keyFile) };
        if (Directory.Exists(folder))
        {
            files.AddRange(Directory.GetFiles(folder, Path.GetFileName(Path.ChangeExtension(keyFile, null)) + ".retired-*.pem").Order(StringComparer.Ordinal));
        }
        return files.Distinct(StringComparer.Ordinal).Where(File.Exists);
    }

    /// <summary>A key from a PEM file: a private key (owner-only) or a public one (SubjectPublicKeyInfo).</summary>
    private static ECDsa LoadKey(string file)
    {
        try
        {
            if (File.ReadAllText(file).Contains("PRIVATE KEY", StringComparison.Ordinal))
            {
                return LogSigner.Load(file, "the log-signing key");
            }
            var key = ECDsa.Create();
            try
            {
                key.ImportFromPem(File.ReadAllText(file));
                return key.KeySize == 256 ? key : throw new InvalidOperationException($"{file}: not an ECDSA P-256 key");
            }
            catch
            {
                key.Dispose();
                throw;
            }
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new BackupRefusedException($"the key {file} cannot be used: {e.Message}", e);
        }
    }
}
