using Google.Protobuf;
using Mirps.Log;
using Mirps.Observation.V1;
using MirpsExchange.Node.Sync;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// Changes handed to a replica's writer directly (tests of the writer's own rules, and data seeded at a
/// test Secretariat), linked as their origin links them: a complete change without a salt gets one, and
/// each change's link follows the one of the change before it handed over here (in any piece, in any
/// order). The chain is not checked here: the
/// writer applies what a <see cref="ChainVerifier"/> released, and these stand in for that.
/// </summary>
public sealed class SignedChanges
{
    private readonly Dictionary<(string Origin, long Sequence), byte[]> _links = [];

    /// <summary>With <paramref name="signer"/>, also a head over the last change signed with it (as the origin signs a commit).</summary>
    public VerifiedChanges Link(IReadOnlyList<StoredObservation> changes, System.Security.Cryptography.ECDsa? signer = null)
    {
        var hashes = new byte[changes.Count * ChangeHash.Size];
        Span<byte> content = stackalloc byte[ChangeHash.Size];
        for (var i = 0; i < changes.Count; i++)
        {
            var change = changes[i];
            if (change.Withholding == Withholding.Unspecified && change.Salt.IsEmpty)
            {
                change.Salt = ByteString.CopyFrom(ChangeHash.NewSalts(1));
            }
            if (!ChangeHash.TryContentDigest(change, content, out _))
            {
                content.Clear(); // a malformed change for a writer rule to refuse
            }
            var previous = _links.GetValueOrDefault((change.Origin, change.OriginSequence - 1)) ?? [];
            var link = hashes.AsSpan(i * ChangeHash.Size, ChangeHash.Size);
            ChangeHash.Link(previous, change.Origin, change.OriginSequence, change.RecordedTime is { } time ? ChangeHash.Micros(time) : 0,
                ChangeHash.PolicyFields(change.Policy), content, ChangeHash.DraftSharingOf(change.Policy), link);
            _links[(change.Origin, change.OriginSequence)] = link.ToArray();
        }
        if (signer is null || changes.Count == 0)
        {
            return new VerifiedChanges([.. changes], hashes, []);
        }
        var head = new LogHead
        {
            Origin = changes[^1].Origin, Sequence = changes[^1].OriginSequence, Kind = LogHeadKind.Commit,
            Hash = ByteString.CopyFrom(hashes.AsSpan((changes.Count - 1) * ChangeHash.Size, ChangeHash.Size)),
            SignedTime = MirpsExchange.Node.Store.StoreTime.ToTimestamp(MirpsExchange.Node.Store.StoreTime.ToMicros(DateTimeOffset.UtcNow)), // as stored: microseconds
        };
        LogHeadSignature.Sign(head, signer, Mirps.Auth.LogKeys.KeyId(signer.ExportSubjectPublicKeyInfo()));
        return new VerifiedChanges([.. changes], hashes, [head]);
    }
}
