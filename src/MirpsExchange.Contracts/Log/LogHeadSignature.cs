using System.Security.Cryptography;
using Mirps.Observation.V1;

namespace Mirps.Log;

/// <summary>
/// An origin's signature over its log head (protos/README.md, "The signed change log"): ECDSA P-256 with
/// SHA-256 over the head's canonical encoding (domain "mirps.head.v1"), r || s in 64 bytes.
/// </summary>
public static class LogHeadSignature
{
    public const string Domain = "mirps.head.v1";
    public const int SignatureSize = 64;

    /// <summary>The bytes signed: every field of the head but the signature.</summary>
    public static byte[] Payload(LogHead head)
    {
        var encoder = new CanonicalEncoder(stackalloc byte[512], Domain);
        try
        {
            encoder.Text(1, head.Origin);
            encoder.Int64(2, head.Sequence);
            encoder.Bytes(3, head.Hash.Span);
            encoder.Text(4, head.KeyId);
            encoder.Int64(6, head.SignedTime is { } time ? ChangeHash.Micros(time) : 0);
            encoder.Int64(7, (long)head.Kind);
            encoder.Bytes(8, head.NextPublicKey.Span);
            encoder.Int64(9, SuppressionMethod.Encoded(head.SuppressionMethod)); // left out at the default (3), as before the field
            return encoder.Written.ToArray();
        }
        finally
        {
            encoder.Dispose();
        }
    }

    /// <summary>Signs <paramref name="head"/> with <paramref name="key"/>, whose id it sets.</summary>
    public static void Sign(LogHead head, ECDsa key, string keyId)
    {
        head.KeyId = keyId;
        head.Signature = Google.Protobuf.ByteString.CopyFrom(key.SignData(Payload(head), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
    }

    public static bool Verify(LogHead head, ECDsa key) =>
        head.Signature.Length == SignatureSize && head.Hash.Length == ChangeHash.Size
        && key.VerifyData(Payload(head), head.Signature.Span, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
}
