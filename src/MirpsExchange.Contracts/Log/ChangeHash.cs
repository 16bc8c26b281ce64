using System.Security.Cryptography;
using Google.Protobuf.WellKnownTypes;
using Mirps.Observation.V1;

namespace Mirps.Log;

/// <summary>
/// The hashes of the origin-signed change log (protos/README.md, "The signed change log"), three nested
/// SHA-256 digests per change so that a reader verifies the chain without seeing what it may not see:
/// <list type="bullet">
/// <item>the value digest covers what a small count withholds: the salt, value, status, note and catalogue 2.0's attributes;</item>
/// <item>the content digest covers what a placeholder withholds: the key (catalogue 2.0's dimensions included), revision, deletion and the value digest;</item>
/// <item>the change's hash (a link of the chain) covers the previous change's hash, the origin, sequence,
/// recorded time, the sharing policy, the content digest and the policy's draft hold.</item>
/// </list>
/// Field numbers of each encoding are part of the contract. Catalogue 2.0's dimensions (content fields 10 to 14) are
/// left out when empty or at their default, and its attributes (value fields 5 to 7) at their default, so a v1
/// change hashes as it always did and a v1 change mapped to v2 (its new dimensions at their defaults) verifies.
/// </summary>
public static class ChangeHash
{
    public const int Size = 32;
    public const int SaltSize = 16;

    public const string ValueDomain = "mirps.value.v1", ContentDomain = "mirps.content.v1", LinkDomain = "mirps.change.v1";

    /// <summary>Reader scopes as the hash encodes them (the SharingPolicy enum's numbers; no policy and an empty list mean SECRETARIAT_ONLY).</summary>
    public const int SecretariatOnly = (int)ReaderScope.SecretariatOnly, AllStates = (int)ReaderScope.AllStates, ListedStates = (int)ReaderScope.ListedStates;

    /// <summary>Fresh salts for <paramref name="count"/> changes, drawn at once.</summary>
    public static byte[] NewSalts(int count) => RandomNumberGenerator.GetBytes(count * SaltSize);

    /// <summary>The value digest of a value with catalogue 2.0's attributes at their defaults (a v1 value).</summary>
    public static void ValueDigest(ReadOnlySpan<byte> salt, double value, ObservationStatus status, string note, Span<byte> into) =>
        ValueDigest(salt, value, status, note, default, into);

    public static void ValueDigest(ReadOnlySpan<byte> salt, double value, ObservationStatus status, string note, in ValueAttributes attributes, Span<byte> into)
    {
        var encoder = new CanonicalEncoder(stackalloc byte[256], ValueDomain);
        try
        {
            encoder.Bytes(1, salt);
            encoder.Double(2, value);
            encoder.Int64(3, (long)status);
            encoder.Text(4, note);
            encoder.Bool(5, attributes.LowerBound);
            encoder.Int64(6, (long)attributes.Confidentiality);
            encoder.Bool(7, attributes.Synthetic);
            encoder.Hash(into);
        }
        finally
        {
            encoder.Dispose();
        }
    }

    /// <summary>The content digest of a key without catalogue 2.0's dimensions (or with them at their defaults: the same digest).</summary>
    public static void ContentDigest(
        string indicatorCode, string country, string period, string sex, string age, string countryOfOrigin,
        long revision, bool deleted, ReadOnlySpan<byte> valueDigest, Span<byte> into) =>
        ContentDigest(indicatorCode, country, period, sex, age, countryOfOrigin, default, revision, deleted, valueDigest, into);

    public static void ContentDigest(
        string indicatorCode, string country, string period, string sex, string age, string countryOfOrigin, in AddedDimensions added,
        long revision, bool deleted, ReadOnlySpan<byte> valueDigest, Span<byte> into)
    {
        var encoder = new CanonicalEncoder(stackalloc byte[256], ContentDomain);
        try
        {
            encoder.Text(1, indicatorCode);
            encoder.Text(2, country);
            encoder.Text(3, period);
            encoder.Text(4, sex);
            encoder.Text(5, age);
            encoder.Text(6, countryOfOrigin);
            encoder.Int64(7, revision);
            encoder.Bool(8, deleted);
            encoder.Bytes(9, valueDigest);
            for (var i = 0; i < AddedDimensions.Count; i++)
            {
                if (!added.IsEmptyOrDefault(i))
                {
                    encoder.Text(10 + i, added[i]);
                }
            }
            encoder.Hash(into);
        }
        finally
        {
            encoder.Dispose();
        }
    }

    /// <summary>
    /// A sharing policy's fields of a link (5 to 8), encoded once per distinct policy: the scope, the listed
    /// States in ordinal order without repeats (LISTED_STATES only), the release time in microseconds and the
    /// small-count threshold. A listed scope with no State is SECRETARIAT_ONLY, as nodes read it.
    /// </summary>
    public static byte[] PolicyFields(int readers, IEnumerable<string>? states, long releaseMicros, int threshold)
    {
        var listed = readers == ListedStates && states is not null
            ? states.Where(state => state.Length > 0).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray()
            : [];
        if (readers != AllStates)
        {
            readers = listed.Length > 0 ? ListedStates : SecretariatOnly;
        }
        var encoder = new CanonicalEncoder(stackalloc byte[256], "");
        try
        {
            encoder.Int64(5, readers);
            foreach (var state in listed)
            {
                encoder.Text(6, state);
            }
            encoder.Int64(7, releaseMicros);
            encoder.Int64(8, Math.Max(0, threshold));
            return encoder.Written[1..].ToArray(); // without the empty domain's zero byte
        }
        finally
        {
            encoder.Dispose();
        }
    }

    /// <summary>The policy fields of a change's SharingPolicy message (none: SECRETARIAT_ONLY).</summary>
    public static byte[] PolicyFields(SharingPolicy? policy) => policy is null
        ? PolicyFields(SecretariatOnly, null, 0, 0)
        : PolicyFields((int)policy.Readers, policy.States, policy.ReleaseTime is { } release ? Micros(release) : 0, policy.SmallCountThreshold);

    /// <summary>The draft hold of a change's SharingPolicy message as its hash encodes it: the enum's number as sent (none: 0).</summary>
    public static int DraftSharingOf(SharingPolicy? policy) => policy is null ? 0 : (int)policy.DraftSharing;

    /// <summary>
    /// The hash of a change: the link after <paramref name="previous"/> (empty before an origin's first change).
    /// <paramref name="draftSharing"/> is the policy's draft_sharing (field 10, after the content digest; left out when 0, so
    /// every change signed before it, and every change not held as a draft, hashes as it always did): <see cref="DraftSharingOf"/>.
    /// </summary>
    public static void Link(ReadOnlySpan<byte> previous, string origin, long sequence, long recordedMicros,
        ReadOnlySpan<byte> policyFields, ReadOnlySpan<byte> contentDigest, int draftSharing, Span<byte> into)
    {
        var encoder = new CanonicalEncoder(stackalloc byte[256], LinkDomain);
        try
        {
            encoder.Bytes(1, previous);
            encoder.Text(2, origin);
            encoder.Int64(3, sequence);
            encoder.Int64(4, recordedMicros);
            encoder.Raw(policyFields);
            encoder.Bytes(9, contentDigest);
            encoder.Int64(10, draftSharing);
            encoder.Hash(into);
        }
        finally
        {
            encoder.Dispose();
        }
    }

    /// <summary>
    /// The content digest of a change as a reader received it: computed from a complete change (with its
    /// salt) or a withheld value (small count or complementary, with its value digest), taken as sent from a placeholder. Null, with
    /// <paramref name="problem"/> saying why, when the change lacks what its kind needs.
    /// </summary>
    public static bool TryContentDigest(StoredObservation change, Span<byte> into, out string? problem)
    {
        problem = null;
        switch (change.Withholding)
        {
            case Withholding.Unspecified or Withholding.SmallCount or Withholding.Complementary when change.Observation is null:
                problem = "no observation";
                return false;
            case Withholding.Unspecified:
                if (change.Salt.Length != SaltSize)
                {
                    problem = $"a salt of {change.Salt.Length} bytes (a complete change carries {SaltSize})";
                    return false;
                }
                Span<byte> value = stackalloc byte[Size];
                var o = change.Observation;
                ValueDigest(change.Salt.Span, o.Value, o.Status, o.Note, ValueAttributes.Of(o), value);
                Content(change, value, into);
                return true;
            case Withholding.SmallCount or Withholding.Complementary:
                if (change.ValueDigest.Length != Size)
                {
                    problem = $"a value digest of {change.ValueDigest.Length} bytes (a withheld value carries {Size})";
                    return false;
                }
                Content(change, change.ValueDigest.Span, into);
                return true;
            default:
                if (change.ContentDigest.Length != Size)
                {
                    problem = $"a content digest of {change.ContentDigest.Length} bytes (a placeholder carries {Size})";
                    return false;
                }
                change.ContentDigest.Span.CopyTo(into);
                return true;
        }
    }

    private static void Content(StoredObservation change, ReadOnlySpan<byte> valueDigest, Span<byte> into)
    {
        var o = change.Observation;
        ContentDigest(o.IndicatorCode, o.Country, o.Period, o.Sex, o.Age, o.CountryOfOrigin, AddedDimensions.Of(o), change.Revision, change.Deleted, valueDigest, into);
    }

    /// <summary>A timestamp in microseconds since the Unix epoch, as the log encodes times.</summary>
    public static long Micros(Timestamp time) => checked(time.Seconds * 1_000_000 + time.Nanos / 1_000);
}
