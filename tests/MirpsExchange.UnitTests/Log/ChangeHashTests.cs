using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Mirps.Log;
using Mirps.Observation.V1;

namespace MirpsExchange.UnitTests.Log;

public class ChangeHashTests
{
    private static readonly byte[] Salt = [.. Enumerable.Range(1, ChangeHash.SaltSize).Select(i => (byte)i)];

    private static StoredObservation Change(double value = 240, string note = "report", SharingPolicy? policy = null) => new()
    {
        Observation = new Observation
        {
            IndicatorCode = "REFUGEES", Country = "BLZ", Period = "2023", Sex = "_T", Age = "_T", CountryOfOrigin = "_T",
            Value = value, Status = ObservationStatus.Normal, Note = note,
        },
        Revision = 1,
        Origin = "BLZ",
        OriginSequence = 7,
        RecordedTime = new Timestamp { Seconds = 1_700_000_000, Nanos = 123_000 },
        Policy = policy ?? new SharingPolicy { Readers = ReaderScope.AllStates, SmallCountThreshold = 5 },
        Salt = ByteString.CopyFrom(Salt),
    };

    private static byte[] LinkOf(StoredObservation change, byte[]? previous = null)
    {
        Span<byte> content = stackalloc byte[ChangeHash.Size];
        Assert.True(ChangeHash.TryContentDigest(change, content, out var problem), problem);
        var link = new byte[ChangeHash.Size];
        ChangeHash.Link(previous ?? [], change.Origin, change.OriginSequence, ChangeHash.Micros(change.RecordedTime), ChangeHash.PolicyFields(change.Policy), content, ChangeHash.DraftSharingOf(change.Policy), link);
        return link;
    }

    [Fact]
    public void The_encoding_is_the_documented_one()
    {
        // protos/README.md gives this example: a value digest's input for value 240, NORMAL, note "report" and salt 01..10.
        var encoder = new CanonicalEncoder(stackalloc byte[256], ChangeHash.ValueDomain);
        encoder.Bytes(1, Salt);
        encoder.Double(2, 240);
        encoder.Int64(3, (long)ObservationStatus.Normal);
        encoder.Text(4, "report");
        var hex = Convert.ToHexString(encoder.Written).ToLowerInvariant();
        encoder.Dispose();
        Assert.Equal(
            "6d697270732e76616c75652e763100" + "0110" + "0102030405060708090a0b0c0d0e0f10" + "0208" + "406e000000000000" + "0308" + "0000000000000001" + "0406" + "7265706f7274",
            hex);
    }

    /// <summary>A v1 change's hash, computed before catalogue 2.0's fields were added: no existing log may change.</summary>
    [Fact]
    public void A_v1_change_hashes_as_before_catalogue_two()
    {
        Assert.Equal("033ed5805c8a40381edaef2b855866425f20bb61a82feb34c805ee3534c58e2c", Convert.ToHexStringLower(LinkOf(Change())));
    }

    /// <summary>
    /// Catalogue 2.0's dimensions at their default (or empty) are left out of the encoding: a v1 change mapped to v2 (its new
    /// dimensions at their defaults) hashes as the v1 change, and a v2 node's key stored with the defaults verifies against it.
    /// </summary>
    [Fact]
    public void A_new_dimension_at_its_default_hashes_as_the_change_without_it()
    {
        var v1 = LinkOf(Change());
        var mapped = Change();
        AddedDimensions.Defaults.CopyTo(mapped.Observation);
        Assert.Equal("PERSONS", mapped.Observation.CountBasis);
        Assert.Equal(v1, LinkOf(mapped));
        for (var d = 0; d < AddedDimensions.Count; d++)
        {
            var one = Change();
            AddedDimensions.Defaults.With(d, d == 3 ? "CASES" : "APPEAL").CopyTo(one.Observation);
            Assert.NotEqual(v1, LinkOf(one));
        }
        // The defaults belong to their own dimension: "_T" is not COUNT_BASIS's default.
        var totalBasis = Change();
        totalBasis.Observation.CountBasis = "_T";
        Assert.NotEqual(v1, LinkOf(totalBasis));
        // The attributes at their defaults too.
        var attributes = Change();
        default(ValueAttributes).CopyTo(attributes.Observation);
        Assert.Equal(v1, LinkOf(attributes));
    }

    /// <summary>Catalogue 2.0's fields are encoded after the v1 fields, with the field numbers protos/README.md gives.</summary>
    [Fact]
    public void New_fields_are_encoded_with_their_documented_numbers()
    {
        Span<byte> plain = stackalloc byte[ChangeHash.Size];
        Span<byte> flagged = stackalloc byte[ChangeHash.Size];
        ChangeHash.ValueDigest(Salt, 240, ObservationStatus.Normal, "report", plain);
        ChangeHash.ValueDigest(Salt, 240, ObservationStatus.Normal, "report", new ValueAttributes(true, ConfidentialityStatus.Confidential, true), flagged);
        var encoder = new CanonicalEncoder(stackalloc byte[256], ChangeHash.ValueDomain);
        encoder.Bytes(1, Salt);
        encoder.Double(2, 240);
        encoder.Int64(3, (long)ObservationStatus.Normal);
        encoder.Text(4, "report");
        encoder.Bool(5, true);
        encoder.Int64(6, (long)ConfidentialityStatus.Confidential);
        encoder.Bool(7, true);
        Span<byte> expected = stackalloc byte[ChangeHash.Size];
        encoder.Hash(expected);
        encoder.Dispose();
        Assert.Equal(expected.ToArray(), flagged.ToArray());
        Assert.NotEqual(plain.ToArray(), flagged.ToArray());

        Span<byte> content = stackalloc byte[ChangeHash.Size];
        ChangeHash.ContentDigest("ASYLUM_APPLICATIONS", "MEX", "2023", "_T", "_T", "_T", new AddedDimensions("NEW", "_T", "", "CASES", "_T"), 1, false, plain, content);
        encoder = new CanonicalEncoder(stackalloc byte[256], ChangeHash.ContentDomain);
        foreach (var (field, text) in new[] { (1, "ASYLUM_APPLICATIONS"), (2, "MEX"), (3, "2023"), (4, "_T"), (5, "_T"), (6, "_T") })
        {
            encoder.Text(field, text);
        }
        encoder.Int64(7, 1);
        encoder.Bytes(9, plain);
        encoder.Text(10, "NEW");
        encoder.Text(13, "CASES");
        encoder.Hash(expected);
        encoder.Dispose();
        Assert.Equal(expected.ToArray(), content.ToArray());
    }

    /// <summary>
    /// A policy's draft hold is field 10 of the link, after the content digest, left out when not held: every change signed before
    /// it keeps its hash, and a relay that drops the hold (or adds one, or turns one into the other) breaks the chain.
    /// </summary>
    [Fact]
    public void A_draft_hold_is_field_ten_of_the_link_and_left_out_when_not_held()
    {
        var plain = Change();
        Assert.Equal(LinkOf(Change()), LinkOf(new StoredObservation(plain) { Policy = new SharingPolicy(plain.Policy) { DraftSharing = DraftSharing.Unspecified } }));
        var held = Change(policy: new SharingPolicy { Readers = ReaderScope.AllStates, SmallCountThreshold = 5, DraftSharing = DraftSharing.Secretariat });
        Span<byte> content = stackalloc byte[ChangeHash.Size];
        Assert.True(ChangeHash.TryContentDigest(held, content, out _));
        var encoder = new CanonicalEncoder(stackalloc byte[256], ChangeHash.LinkDomain);
        encoder.Text(2, "BLZ");
        encoder.Int64(3, 7);
        encoder.Int64(4, ChangeHash.Micros(held.RecordedTime));
        encoder.Raw(ChangeHash.PolicyFields(held.Policy));
        encoder.Bytes(9, content);
        encoder.Int64(10, (long)DraftSharing.Secretariat);
        Span<byte> expected = stackalloc byte[ChangeHash.Size];
        encoder.Hash(expected);
        encoder.Dispose();
        Assert.Equal(expected.ToArray(), LinkOf(held));
        var ownerOnly = Change(policy: new SharingPolicy(held.Policy) { DraftSharing = DraftSharing.OwnerOnly });
        Assert.NotEqual(LinkOf(held), LinkOf(ownerOnly));
        Assert.NotEqual(LinkOf(plain), LinkOf(ownerOnly));
    }

    [Fact]
    public void A_reader_that_gets_less_computes_the_same_hash()
    {
        var complete = Change();
        var expected = LinkOf(complete);

        Span<byte> value = stackalloc byte[ChangeHash.Size];
        ChangeHash.ValueDigest(Salt, 240, ObservationStatus.Normal, "report", value);
        var smallCount = Change(value: 0, note: "");
        smallCount.Observation.Status = ObservationStatus.Confidential;
        smallCount.Salt = ByteString.Empty;
        smallCount.Withholding = Withholding.SmallCount;
        smallCount.ValueDigest = ByteString.CopyFrom(value);
        Assert.Equal(expected, LinkOf(smallCount));

        Span<byte> content = stackalloc byte[ChangeHash.Size];
        Assert.True(ChangeHash.TryContentDigest(complete, content, out _));
        var placeholder = new StoredObservation
        {
            Origin = "BLZ", OriginSequence = 7, RecordedTime = complete.RecordedTime, Policy = complete.Policy,
            Withholding = Withholding.NotShared, ContentDigest = ByteString.CopyFrom(content),
        };
        Assert.Equal(expected, LinkOf(placeholder));
    }

    [Fact]
    public void Every_field_a_change_carries_changes_its_hash()
    {
        var expected = LinkOf(Change());
        var variants = new List<Action<StoredObservation>>
        {
            c => c.Observation.Value = 241,
            c => c.Observation.Status = ObservationStatus.Provisional,
            c => c.Observation.Note = "report.",
            c => c.Observation.Period = "2022",
            c => c.Observation.Sex = "F",
            c => c.Observation.CountryOfOrigin = "HND",
            c => c.Revision = 2,
            c => c.Deleted = true,
            c => c.OriginSequence = 8,
            c => c.RecordedTime = new Timestamp { Seconds = 1_600_000_000 },
            c => c.Policy = new SharingPolicy { Readers = ReaderScope.SecretariatOnly, SmallCountThreshold = 5 },
            c => c.Policy = new SharingPolicy { Readers = ReaderScope.AllStates, SmallCountThreshold = 0 },
            c => c.Policy = new SharingPolicy { Readers = ReaderScope.AllStates, SmallCountThreshold = 5, ReleaseTime = new Timestamp { Seconds = 1 } },
            c => c.Salt = ByteString.CopyFrom(new byte[ChangeHash.SaltSize]),
            c => c.Observation.ApplicationType = "NEW",
            c => c.Observation.DecisionLevel = "APPEAL",
            c => c.Observation.ProcedureType = "UNHCR",
            c => c.Observation.CountBasis = "CASES",
            c => c.Observation.CountryOfDestination = "CAN",
            c => c.Observation.LowerBound = true,
            c => c.Observation.Confidentiality = ConfidentialityStatus.NotForPublication,
            c => c.Observation.Confidentiality = ConfidentialityStatus.Free,
            c => c.Observation.Synthetic = true,
            c => c.Policy = new SharingPolicy { Readers = ReaderScope.AllStates, SmallCountThreshold = 5, DraftSharing = DraftSharing.OwnerOnly },
            c => c.Policy = new SharingPolicy { Readers = ReaderScope.AllStates, SmallCountThreshold = 5, DraftSharing = DraftSharing.Secretariat },
        };
        foreach (var variant in variants)
        {
            var changed = Change();
            variant(changed);
            Assert.NotEqual(expected, LinkOf(changed));
        }
        Assert.NotEqual(expected, LinkOf(Change(), previous: new byte[ChangeHash.Size]));
    }

    [Fact]
    public void A_policy_hashes_as_nodes_read_it()
    {
        var listed = new SharingPolicy { Readers = ReaderScope.ListedStates, States = { "PAN", "CRI", "PAN" } };
        var sorted = new SharingPolicy { Readers = ReaderScope.ListedStates, States = { "CRI", "PAN" } };
        Assert.Equal(ChangeHash.PolicyFields(sorted), ChangeHash.PolicyFields(listed));
        Assert.Equal(ChangeHash.PolicyFields(null), ChangeHash.PolicyFields(new SharingPolicy { Readers = ReaderScope.ListedStates }));
        Assert.Equal(ChangeHash.PolicyFields(null), ChangeHash.PolicyFields(new SharingPolicy()));
        Assert.Equal(ChangeHash.PolicyFields(null), ChangeHash.PolicyFields(new SharingPolicy { Readers = (ReaderScope)7 }));
        Assert.Equal(ChangeHash.PolicyFields(null), ChangeHash.PolicyFields(new SharingPolicy { Readers = ReaderScope.ListedStates, States = { "" } }));
        Assert.Equal(ChangeHash.PolicyFields(sorted), ChangeHash.PolicyFields(new SharingPolicy { Readers = ReaderScope.ListedStates, States = { "PAN", "", "CRI" } }));
        Assert.NotEqual(ChangeHash.PolicyFields(sorted), ChangeHash.PolicyFields(new SharingPolicy { Readers = ReaderScope.ListedStates, States = { "CRI" } }));
    }

    [Fact]
    public void A_change_without_what_its_kind_needs_has_no_hash()
    {
        var noSalt = Change();
        noSalt.Salt = ByteString.Empty;
        Assert.False(ChangeHash.TryContentDigest(noSalt, stackalloc byte[ChangeHash.Size], out var problem));
        Assert.Contains("salt", problem);
        var placeholder = new StoredObservation { Origin = "BLZ", OriginSequence = 1, Withholding = Withholding.Embargoed };
        Assert.False(ChangeHash.TryContentDigest(placeholder, stackalloc byte[ChangeHash.Size], out problem));
        Assert.Contains("content digest", problem);
    }

    [Fact]
    public void A_head_verifies_only_as_signed_and_only_with_its_key()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var head = new LogHead
        {
            Origin = "PAN", Sequence = 42, Hash = ByteString.CopyFrom(new byte[ChangeHash.Size]),
            SignedTime = new Timestamp { Seconds = 1_700_000_000 }, Kind = LogHeadKind.Commit,
        };
        LogHeadSignature.Sign(head, key, Mirps.Auth.LogKeys.KeyId(key.ExportSubjectPublicKeyInfo()));
        Assert.Equal(43, head.KeyId.Length);
        Assert.True(LogHeadSignature.Verify(head, key));
        Assert.False(LogHeadSignature.Verify(head, other));
        foreach (var tamper in new Action<LogHead>[] { h => h.Sequence = 43, h => h.Origin = "CRI", h => h.Hash = ByteString.CopyFrom(new byte[31].Append((byte)1).ToArray()), h => h.Kind = LogHeadKind.Attestation, h => h.SignedTime = new Timestamp() })
        {
            var changed = head.Clone();
            tamper(changed);
            Assert.False(LogHeadSignature.Verify(changed, key));
        }
    }
}
