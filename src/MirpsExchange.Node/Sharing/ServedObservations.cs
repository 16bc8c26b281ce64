using Google.Protobuf;
using Mirps.Log;
using Mirps.Observation.V1;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Sharing;

/// <summary>
/// Stored rows and placeholders as one reader receives them, under the policy each change carries:
/// what the reader may not receive is replaced by a placeholder or has its value withheld here, so it
/// never leaves the node. A replica's checks of what it receives are in Sync/ReplicaRules.
/// </summary>
/// <param name="feedOf">For the change feed: the State whose node serves it ("" for the Secretariat's). A small count (or a
/// complementary withholding) of another origin goes out as NOT_HELD there, not SMALL_COUNT: a reader cannot tell a small count from a value a relay
/// says is one, and a small count is final for it, so only the origin's own node serves one (ReplicaRules refuses any
/// other); a reader asks the origin for it. Null: a query's answer, where a small count is shown withheld.</param>
public sealed class ServedObservations(Reader reader, long nowMicros, string? feedOf = null)
{
    /// <summary>One message per distinct policy: rows of an indicator share it, and serialising a shared message is safe.</summary>
    private readonly Dictionary<RowPolicy, SharingPolicy> _policies = [];

    /// <summary>The last recorded time served: the changes of one commit share it, and so can their messages.</summary>
    private (long Micros, Google.Protobuf.WellKnownTypes.Timestamp Message)? _time;

    public Reader Reader => reader;

    /// <summary>
    /// The revisions (origin, sequence) to serve as WITHHOLDING_COMPLEMENTARY: <see cref="ComplementaryWithholding.ForTablesAsync"/>
    /// for the tables served. Null: none (the Secretariat, the owner, or no table with a value withheld from the reader).
    /// </summary>
    public IReadOnlySet<(string Origin, long Sequence)>? Complementary { get; init; }

    /// <summary>Drafts the origin holds back from this reader until approval (<see cref="Approval.DraftHold"/>): served NOT_HELD. Null: none.</summary>
    public Approval.DraftHold? Drafts { get; init; }

    public StoredObservation Serve(ObservationRow row)
    {
        var policy = row.Policy();
        var held = row.ValueWithheld ? Held.ValueWithheld : Held.Complete;
        var withholding = SharingRules.Serve(reader, row.Origin, policy, held, !row.Deleted && policy.IsSmall(row.Value), nowMicros);
        if (withholding == Withholding.Unspecified && Complementary is { } complementary && complementary.Contains((row.Origin, row.OriginSequence)))
        {
            withholding = Withholding.Complementary;
        }
        else if (withholding == Withholding.SmallCount && row.ValueWithheld && row.Status != ObservationStatus.Confidential)
        {
            withholding = Withholding.Complementary; // a relay's copy of a value withheld from it as complementary (the status keeps why: ReplicaWriter)
        }
        if (withholding.IsValueWithheld() && feedOf is not null && feedOf != row.Origin)
        {
            withholding = Withholding.NotHeld; // only the origin's own node serves a withheld value in the feed
        }
        if (withholding is Withholding.Unspecified or Withholding.SmallCount or Withholding.Complementary && Drafts?.Holds(row) == true)
        {
            withholding = Withholding.NotHeld; // a draft: asked for again, and served once approved
        }
        if (withholding != Withholding.Unspecified && !withholding.IsValueWithheld())
        {
            var placeholder = Placeholder(row.Origin, row.OriginSequence, row.RecordedTime, row.ReceivedTime, policy, withholding);
            // The digest of what is withheld, so the reader still verifies the origin's chain (Mirps.Log.ChangeHash).
            if (ValueDigest(row) is { } value)
            {
                Span<byte> content = stackalloc byte[ChangeHash.Size];
                ChangeHash.ContentDigest(row.IndicatorCode, row.Country, row.Period, row.Sex, row.Age, row.CountryOfOrigin, row.Added(), row.Revision, row.Deleted, value, content);
                placeholder.ContentDigest = ByteString.CopyFrom(content);
            }
            return placeholder;
        }
        var stored = ToStored(row, Time(row.RecordedTime));
        stored.Policy = Message(policy);
        stored.ReceivedTime = Received(row.ReceivedTime);
        if (withholding.IsValueWithheld())
        {
            stored.Observation.Value = 0;
            stored.Observation.Status = ObservationStatus.Confidential;
            stored.Observation.Note = ""; // a note may say the count ("3 cases at ...")
            default(ValueAttributes).CopyTo(stored.Observation); // covered by the value digest, withheld with the value (a lower bound says something of it)
            stored.Withholding = withholding;
            stored.ValueDigest = ValueDigest(row) is { } digest ? ByteString.CopyFrom(digest) : ByteString.Empty;
        }
        else if (row.Salt is { } salt)
        {
            stored.Salt = UnsafeByteOperations.UnsafeWrap(salt); // read for this row alone, never changed
        }
        return stored;
    }

    /// <summary>
    /// The digest of a row's value part: as received when its value was withheld from this node, else from its salt.
    /// None for history held from before logs were signed (no salt, no digest received): unsalted, a digest of a
    /// small count or of a key from the catalogue is a few guesses away, and no head covers such a row anyway.
    /// </summary>
    private static byte[]? ValueDigest(ObservationRow row)
    {
        if (row.ValueWithheld)
        {
            return row.ValueDigest;
        }
        if (row.Salt is null)
        {
            return null;
        }
        var digest = new byte[ChangeHash.Size];
        ChangeHash.ValueDigest(row.Salt, row.Value ?? 0, row.Status, row.Note, row.Attributes(), digest);
        return digest;
    }

    public StoredObservation Serve(WithheldChange held)
    {
        var policy = held.Policy();
        var withholding = SharingRules.Serve(reader, held.Origin, policy, Held.Placeholder, small: false, nowMicros);
        var placeholder = Placeholder(held.Origin, held.OriginSequence, held.RecordedTime, held.ReceivedTime, policy, withholding);
        if (held.ContentDigest is { } digest)
        {
            placeholder.ContentDigest = UnsafeByteOperations.UnsafeWrap(digest);
        }
        return placeholder;
    }

    /// <summary>Whether a served change is a placeholder rather than an observation (queries leave those out).</summary>
    public static bool IsPlaceholder(StoredObservation stored) => stored.Withholding != Withholding.Unspecified && !stored.Withholding.IsValueWithheld();

    private StoredObservation Placeholder(string origin, long sequence, long recordedTime, long receivedTime, RowPolicy policy, Withholding withholding) => new()
    {
        Origin = origin,
        OriginSequence = sequence,
        RecordedTime = Time(recordedTime),
        ReceivedTime = Received(receivedTime),
        Policy = Message(policy),
        Withholding = withholding,
    };

    private SharingPolicy Message(RowPolicy policy)
    {
        if (!_policies.TryGetValue(policy, out var message))
        {
            message = policy.ToMessage();
            _policies[policy] = message;
        }
        return message;
    }

    /// <summary>The last received time served: a replica received whole batches at once.</summary>
    private (long Micros, Google.Protobuf.WellKnownTypes.Timestamp Message)? _received;

    private Google.Protobuf.WellKnownTypes.Timestamp Received(long micros)
    {
        if (_received is not { } last || last.Micros != micros)
        {
            _received = last = (micros, StoreTime.ToTimestamp(micros));
        }
        return last.Message;
    }

    private Google.Protobuf.WellKnownTypes.Timestamp Time(long micros)
    {
        if (_time is not { } last || last.Micros != micros)
        {
            _time = last = (micros, StoreTime.ToTimestamp(micros));
        }
        return last.Message;
    }

    /// <summary>A row as stored, without its policy.</summary>
    private static StoredObservation ToStored(ObservationRow row, Google.Protobuf.WellKnownTypes.Timestamp recordedTime) => new()
    {
        Observation = new Observation
        {
            IndicatorCode = row.IndicatorCode,
            Country = row.Country,
            Period = row.Period,
            Sex = row.Sex,
            Age = row.Age,
            CountryOfOrigin = row.CountryOfOrigin,
            ApplicationType = row.ApplicationType,
            DecisionLevel = row.DecisionLevel,
            ProcedureType = row.ProcedureType,
            CountBasis = row.CountBasis,
            CountryOfDestination = row.CountryOfDestination,
            Value = row.Value ?? 0,
            Status = row.Status,
            Note = row.Note,
            LowerBound = row.LowerBound,
            Confidentiality = row.Confidentiality,
            Synthetic = row.Synthetic,
        },
        Revision = row.Revision,
        Origin = row.Origin,
        OriginSequence = row.OriginSequence,
        RecordedTime = recordedTime,
        Deleted = row.Deleted,
    };
}
