using System.Security.Cryptography;
using Mirps.Observation.V1;

namespace Mirps.Log;

/// <summary>
/// An origin's lifecycle entry (an approval, an unapproval; protos/README.md, "Approval"): its canonical encoding
/// (domain "mirps.lifecycle.v1", fields 1 to 14), the entry hash the next entry chains to (SHA-256 over it), and the
/// origin's ECDSA P-256 signature over it with its log-signing key, r || s in 64 bytes, as a log head's. A reason is
/// committed (<see cref="CommitReason"/>): the encoding holds its salted hash, not its text, so the entry verifies
/// whether or not its reader may read the text (<see cref="WithoutReason"/>).
/// </summary>
public static class LifecycleEntrySignature
{
    public const string Domain = "mirps.lifecycle.v1";

    /// <summary>The domain of a reason's hash (<see cref="ReasonHash"/>).</summary>
    public const string ReasonDomain = "mirps.lifecycle.reason.v1";

    /// <summary>The bytes of a reason's salt: random, one per entry, so a short reason cannot be found from its hash by trying.</summary>
    public const int ReasonSaltSize = 16;

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
            encoder.Text(9, entry.ReasonHash.IsEmpty ? entry.Reason : null); // a committed reason is signed through its hash, field 14
            encoder.Text(10, entry.Actor);
            encoder.Int64(11, entry.RecordedTime is { } time ? ChangeHash.Micros(time) : 0);
            encoder.Text(12, entry.KeyId);
            encoder.Text(13, entry.Country); // the Secretariat's decisions only; left out when empty, so older entries hash as they did
            encoder.Bytes(14, entry.ReasonHash.Span); // left out when empty: an entry signed before reasons were committed hashes as it did
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

    /// <summary>Whether <paramref name="key"/> signed <paramref name="entry"/>, the reason served with it included (<see cref="ReasonMatches"/>).</summary>
    public static bool Verify(LifecycleEntry entry, ECDsa key) =>
        entry.Signature.Length == LogHeadSignature.SignatureSize
        && ReasonMatches(entry)
        && key.VerifyData(Payload(entry), entry.Signature.Span, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

    /// <summary>
    /// Commits <paramref name="entry"/>'s reason before it is signed: a fresh random salt and the hash of salt and text
    /// (<see cref="ReasonHash"/>), which the signature covers in place of the text. Nothing to do for an entry without a reason.
    /// </summary>
    public static void CommitReason(LifecycleEntry entry)
    {
        if (entry.Reason.Length == 0)
        {
            return;
        }
        var salt = RandomNumberGenerator.GetBytes(ReasonSaltSize);
        entry.ReasonSalt = Google.Protobuf.ByteString.CopyFrom(salt);
        entry.ReasonHash = Google.Protobuf.ByteString.CopyFrom(ReasonHash(salt, entry.Reason));
    }

    /// <summary>SHA-256 over the canonical encoding of <see cref="ReasonDomain"/>, fields 1 <paramref name="salt"/> and 2 <paramref name="reason"/>.</summary>
    public static byte[] ReasonHash(ReadOnlySpan<byte> salt, string reason)
    {
        var encoder = new CanonicalEncoder(stackalloc byte[256], ReasonDomain);
        try
        {
            encoder.Bytes(1, salt);
            encoder.Text(2, reason);
            return SHA256.HashData(encoder.Written);
        }
        finally
        {
            encoder.Dispose();
        }
    }

    /// <summary>
    /// Whether the reason served with <paramref name="entry"/> is the one the origin committed to: with a reason hash, either no
    /// text and no salt (a reader who may not read it) or a salt and text that hash to it; without one (an entry signed before
    /// reasons were committed, or with no reason), no salt, the text being in the signed bytes.
    /// </summary>
    public static bool ReasonMatches(LifecycleEntry entry) => entry.ReasonHash.IsEmpty
        ? entry.ReasonSalt.IsEmpty
        : entry.ReasonHash.Length == 32 && (entry.Reason.Length == 0 && entry.ReasonSalt.IsEmpty
            || entry.ReasonSalt.Length == ReasonSaltSize && CryptographicOperations.FixedTimeEquals(ReasonHash(entry.ReasonSalt.Span, entry.Reason), entry.ReasonHash.Span));

    /// <summary>
    /// <paramref name="entry"/> as served to a reader who may not read its reason: the same signed entry, still verifiable, without
    /// the text and its salt. An entry signed before reasons were committed is returned as it is: its text is in the signed bytes.
    /// </summary>
    public static LifecycleEntry WithoutReason(LifecycleEntry entry)
    {
        if (entry.ReasonHash.IsEmpty || entry.Reason.Length == 0 && entry.ReasonSalt.IsEmpty)
        {
            return entry;
        }
        var served = entry.Clone();
        served.Reason = "";
        served.ReasonSalt = Google.Protobuf.ByteString.Empty;
        return served;
    }
}
