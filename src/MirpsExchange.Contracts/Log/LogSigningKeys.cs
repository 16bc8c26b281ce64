using System.Security.Cryptography;

namespace Mirps.Log;

/// <summary>Log-signing keys as the federation names and exchanges them: ECDSA P-256, SubjectPublicKeyInfo DER.</summary>
public static class LogSigningKeys
{
    /// <summary>A key's id: base64url without padding of SHA-256 over its SubjectPublicKeyInfo DER (43 characters).</summary>
    public static string KeyId(ReadOnlySpan<byte> subjectPublicKeyInfo) =>
        Base64Url(SHA256.HashData(subjectPublicKeyInfo));

    public static string KeyId(ECDsa key) => KeyId(key.ExportSubjectPublicKeyInfo());

    /// <summary>The public key in <paramref name="subjectPublicKeyInfo"/>, when it is an ECDSA P-256 key; null otherwise.</summary>
    public static ECDsa? TryImport(ReadOnlySpan<byte> subjectPublicKeyInfo)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportSubjectPublicKeyInfo(subjectPublicKeyInfo, out var read);
            if (read == subjectPublicKeyInfo.Length && key.KeySize == 256
                && key.ExportParameters(false).Curve.Oid.Value == ECCurve.NamedCurves.nistP256.Oid.Value)
            {
                return key;
            }
        }
        catch (CryptographicException)
        {
        }
        key.Dispose();
        return null;
    }

    public static string Base64Url(ReadOnlySpan<byte> bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
