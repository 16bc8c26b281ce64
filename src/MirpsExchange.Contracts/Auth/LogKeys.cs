using System.Buffers.Text;
using System.Security.Cryptography;

namespace Mirps.Auth;

/// <summary>
/// The public keys origins sign their change log's head with: ECDSA P-256 with SHA-256. A key travels as
/// its SubjectPublicKeyInfo DER bytes (<see cref="AsymmetricAlgorithm.ExportSubjectPublicKeyInfo"/>; in
/// files, PEM "PUBLIC KEY"), registered at the identity server and published in its revocation list
/// (<see cref="RevocationListFormat.LogKeysClaim"/>). See protos/README.md, "Revocation".
/// </summary>
public static class LogKeys
{
    /// <summary>Length of a key id: 32 bytes of SHA-256 in base64url without padding.</summary>
    public const int KeyIdLength = 43;

    /// <summary>Key id ("kid") of a key: base64url (no padding) of SHA-256 over its SubjectPublicKeyInfo DER bytes.</summary>
    public static string KeyId(ReadOnlySpan<byte> spki) => Base64Url.EncodeToString(SHA256.HashData(spki));

    /// <summary>Whether <paramref name="keyId"/> has the form of a key id: base64url (no padding) of 32 bytes.</summary>
    public static bool IsKeyId(string keyId) =>
        keyId.Length == KeyIdLength && Base64Url.IsValid(keyId, out var bytes) && bytes == 32;

    /// <summary>
    /// The key in <paramref name="spki"/> when it is an EC public key on P-256 in the one encoding
    /// <see cref="AsymmetricAlgorithm.ExportSubjectPublicKeyInfo"/> writes (named curve, uncompressed point,
    /// nothing after it), so that one key has exactly one key id. The caller disposes it.
    /// </summary>
    public static bool TryImport(ReadOnlySpan<byte> spki, out ECDsa? key)
    {
        key = null;
        if (spki.IsEmpty)
        {
            return false;
        }
        var candidate = ECDsa.Create();
        try
        {
            candidate.ImportSubjectPublicKeyInfo(spki, out var read);
            if (read == spki.Length
                && candidate.ExportParameters(includePrivateParameters: false).Curve is { IsNamed: true } curve
                && curve.Oid.Value == ECCurve.NamedCurves.nistP256.Oid.Value
                && candidate.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(spki))
            {
                key = candidate;
                return true;
            }
        }
        catch (CryptographicException)
        {
            // not an EC public key (an RSA key, garbage, a point off the curve)
        }
        candidate.Dispose();
        return false;
    }
}

/// <summary>
/// One origin's log-signing public key as the identity server publishes it.
/// </summary>
/// <param name="Country">The MIRPS State (ISO3) whose change log the key signs; it verifies no other State's.</param>
/// <param name="KeyId">Its key id, <see cref="LogKeys.KeyId"/> of <paramref name="Spki"/>.</param>
/// <param name="Spki">SubjectPublicKeyInfo DER bytes of the P-256 public key.</param>
/// <param name="RegisteredTime">When it was registered (whole seconds).</param>
/// <param name="RetiredTime">When it was retired (whole seconds), or null: log heads it signed before stay verifiable, later ones are refused.</param>
public sealed record PublishedLogKey(string Country, string KeyId, byte[] Spki, DateTimeOffset RegisteredTime, DateTimeOffset? RetiredTime);
