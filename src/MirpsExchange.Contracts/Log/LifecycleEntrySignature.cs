using System.Security.Cryptography;
using Mirps.Observation.V1;

namespace Mirps.Log;

/// <summary>
/// An origin's lifecycle entry (an approval, an unapproval; protos/README.md, "Approval"): its canonical encoding
/// (domain "mirps.lifecycle.v1", fields 1 to 13), the entry hash the next entry chains to (SHA-256 over it), and the
/// origin's ECDSA P-256 signature over it with its log-signing key, r || s in 64 bytes, as a log head's.
/// </summary>
public static class LifecycleEntrySignature
{
    public const string Domain = "mirps.lifecycle.v1";

    /// <summary>The bytes signed and hashed: every field of the entry but the signature.</summary>
    public static byte[] Payload(LifecycleEntry entry)
    {
        var encoder = new CanonicalEncoder(stackalloc byte[1024], Domain);
        try
        {
            encoder.Text(1, entry.Origin);
            encoder.Int64(2, entry.EntrySequence);
            encoder.Bytes(3, entry.PreviousHash.Span);
            encoder.Text(4, entry.GroupId);
            encoder.Text(5, entry.Period);
            encoder.Int64(6, (long)entry.Action);
            encoder.Int64(7, entry.LogSequence);
            encoder.Bytes(8, entry.LogHash.Span);
            encoder.Text(9, entry.Reason);
            encoder.Text(10, entry.Actor);
            encoder.Int64(11, entry.RecordedTime is { } time ? ChangeHash.Micros(time) : 0);
            encoder.Text(12, entry.KeyId);
            encoder.Text(13, entry.Country); // the Secretariat's decisions only; left out when empty, so older entries hash as they did
            return encoder.Written.ToArray();
        }
        finally
        {
            encoder.Dispose();
        }
    }

    /// <summary>The entry hash: what the next entry's previous_hash must be.</summary>
    public static byte[] Hash(LifecycleEntry entry) => SHA256.HashData(Payload(entry));

    /// <summary>Signs <paramref name="entry"/> with <paramref name="key"/>, whose id it sets.</summary>
    public static void Sign(LifecycleEntry entry, ECDsa key, string keyId)
    {
        entry.KeyId = keyId;
        entry.Signature = Google.Protobuf.ByteString.CopyFrom(key.SignData(Payload(entry), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
    }

    public static bool Verify(LifecycleEntry entry, ECDsa key) =>
        entry.Signature.Length == LogHeadSignature.SignatureSize
        && key.VerifyData(Payload(entry), entry.Signature.Span, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
}
