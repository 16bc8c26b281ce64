using System.Buffers;
using System.Buffers.Binary;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Sync;

/// <summary>
/// Decodes a peer's change feed (StreamChangesResponse) into the generated messages, allocating far less than
/// Google.Protobuf's parser: codes, periods and countries repeat on every change and are decoded once
/// (<see cref="Utf8StringPool"/>), and a change's recorded time and sharing policy, the same for whole runs of
/// changes, are one shared instance while they repeat (the sync worker reads them, never changes them). A
/// million changes otherwise allocated about a dozen objects each, and the collections that followed paused
/// the thread applying them. It reads the encoding Google.Protobuf writes; anything else it does not expect
/// (a field it does not know, a message field repeated, a group) is left to Google.Protobuf's own parser,
/// so the result is the same message either way (a text that is not UTF-8 is refused as it refuses it).
/// One decoder per pull, for all its calls: a channel keeps every method it has called, and so the decoder
/// each one's deserializer holds. A call given up on reconnect may still be decoding its last message
/// while the next call starts: a message is decoded under a lock.
/// </summary>
public sealed class ChangeFeedDecoder
{
    private const int Varint = 0, Fixed64 = 1, LengthDelimited = 2;

    private readonly Lock _lock = new();
    private readonly Method<StreamChangesRequest, StreamChangesResponse> _method;
    private readonly Utf8StringPool _strings = new();

    /// <summary>Per text field, the last value decoded and its bytes: consecutive changes mostly repeat a field's value.</summary>
    private readonly LastText[] _last = [.. Enumerable.Range(0, (int)TextField.Count).Select(_ => new LastText())];
    private byte[] _policyBytes = [];
    private SharingPolicy? _policy;
    private Timestamp? _time;
    private Timestamp? _received;

    /// <summary>Salts and digests are copied into slabs, each change's a slice of one: not an array per change.</summary>
    private byte[] _slab = [];
    private int _slabUsed;

    /// <summary>How many messages went to Google.Protobuf's parser instead (tests check that the usual encoding does not).</summary>
    internal int Fallbacks { get; private set; }

    public ChangeFeedDecoder() =>
        _method = new Method<StreamChangesRequest, StreamChangesResponse>(
            MethodType.ServerStreaming, SyncService.Descriptor.FullName, "StreamChanges",
            Marshallers.Create((StreamChangesRequest r) => r.ToByteArray(), StreamChangesRequest.Parser.ParseFrom),
            Marshallers.Create<StreamChangesResponse>((r, context) => context.Complete(r.ToByteArray()), context => Decode(context.PayloadAsReadOnlySequence())));

    /// <summary>A peer's feed (SyncService.StreamChanges, as the generated client calls it), its messages decoded by this decoder.</summary>
    public AsyncServerStreamingCall<StreamChangesResponse> StreamChanges(CallInvoker invoker, StreamChangesRequest request, CancellationToken cancellationToken) =>
        invoker.AsyncServerStreamingCall(_method, null, new CallOptions(cancellationToken: cancellationToken), request);

    public StreamChangesResponse Decode(ReadOnlySequence<byte> payload)
    {
        if (payload.IsSingleSegment)
        {
            return Decode(payload.FirstSpan);
        }
        var length = checked((int)payload.Length);
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            payload.CopyTo(buffer);
            return Decode(buffer.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public StreamChangesResponse Decode(ReadOnlySpan<byte> payload)
    {
        lock (_lock)
        {
            try
            {
                if (TryDecode(payload) is { } response)
                {
                    return response;
                }
            }
            catch (MalformedException)
            {
                // Google.Protobuf's parser below throws its own error for it (InvalidProtocolBufferException).
            }
            Fallbacks++;
            return StreamChangesResponse.Parser.ParseFrom(payload);
        }
    }

    /// <summary>The message decoded; null for an encoding this decoder leaves to Google.Protobuf.</summary>
    private StreamChangesResponse? TryDecode(ReadOnlySpan<byte> payload)
    {
        var response = new StreamChangesResponse();
        var reader = new Reader(payload);
        while (!reader.End)
        {
            var (field, type) = reader.Tag();
            switch (field, type)
            {
                case (1, LengthDelimited):
                    var change = new StoredObservation();
                    if (!ReadChange(reader.Bytes(), change))
                    {
                        return null;
                    }
                    response.Changes.Add(change);
                    break;
                case (2, Varint):
                    response.LastSequence = (long)reader.Varint();
                    break;
                case (3, LengthDelimited):
                    response.Heads.Add(LogHead.Parser.ParseFrom(reader.Bytes())); // one per commit: Google.Protobuf's parser is fine
                    break;
                case (4, Varint):
                    response.SuppressionMethod = (uint)reader.Varint();
                    break;
                default:
                    return null;
            }
        }
        return response;
    }

    /// <summary>A copy of a salt or digest, a slice of the current slab (never written again once handed out).</summary>
    private ByteString Copy(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > 64)
        {
            return ByteString.CopyFrom(bytes);
        }
        if (_slabUsed + bytes.Length > _slab.Length)
        {
            (_slab, _slabUsed) = (new byte[16 * 1024], 0);
        }
        bytes.CopyTo(_slab.AsSpan(_slabUsed));
        var copy = UnsafeByteOperations.UnsafeWrap(_slab.AsMemory(_slabUsed, bytes.Length));
        _slabUsed += bytes.Length;
        return copy;
    }

    /// <summary>False for an encoding this decoder leaves to Google.Protobuf.</summary>
    private bool ReadChange(ReadOnlySpan<byte> bytes, StoredObservation change)
    {
        var reader = new Reader(bytes);
        while (!reader.End)
        {
            var (field, type) = reader.Tag();
            switch (field, type)
            {
                case (1, LengthDelimited) when change.Observation is null:
                    change.Observation = new Observation();
                    if (!ReadObservation(reader.Bytes(), change.Observation))
                    {
                        return false;
                    }
                    break;
                case (2, Varint):
                    change.Revision = (long)reader.Varint();
                    break;
                case (3, LengthDelimited):
                    change.Origin = Text(TextField.Origin, reader.Bytes());
                    break;
                case (4, Varint):
                    change.OriginSequence = (long)reader.Varint();
                    break;
                case (5, LengthDelimited) when change.RecordedTime is null:
                    if (ReadTime(reader.Bytes(), _time) is not { } time)
                    {
                        return false;
                    }
                    change.RecordedTime = _time = time;
                    break;
                case (6, Varint):
                    change.Deleted = reader.Varint() != 0;
                    break;
                case (7, LengthDelimited) when change.Policy is null:
                    if (ReadPolicy(reader.Bytes()) is not { } policy)
                    {
                        return false;
                    }
                    change.Policy = policy;
                    break;
                case (8, Varint):
                    change.Withholding = (Withholding)(int)reader.Varint();
                    break;
                case (9, LengthDelimited):
                    change.Salt = Copy(reader.Bytes());
                    break;
                case (10, LengthDelimited):
                    change.ValueDigest = Copy(reader.Bytes());
                    break;
                case (11, LengthDelimited):
                    change.ContentDigest = Copy(reader.Bytes());
                    break;
                case (12, LengthDelimited) when change.ReceivedTime is null:
                    if (ReadTime(reader.Bytes(), _received) is not { } received)
                    {
                        return false;
                    }
                    change.ReceivedTime = _received = received;
                    break;
                default:
                    return false;
            }
        }
        return true;
    }

    private bool ReadObservation(ReadOnlySpan<byte> bytes, Observation observation)
    {
        var reader = new Reader(bytes);
        while (!reader.End)
        {
            var (field, type) = reader.Tag();
            switch (field, type)
            {
                case (1, LengthDelimited):
                    observation.IndicatorCode = Text(TextField.Indicator, reader.Bytes());
                    break;
                case (2, LengthDelimited):
                    observation.Country = Text(TextField.Country, reader.Bytes());
                    break;
                case (3, LengthDelimited):
                    observation.Period = Text(TextField.Period, reader.Bytes());
                    break;
                case (4, LengthDelimited):
                    observation.Sex = Text(TextField.Sex, reader.Bytes());
                    break;
                case (5, LengthDelimited):
                    observation.Age = Text(TextField.Age, reader.Bytes());
                    break;
                case (6, LengthDelimited):
                    observation.CountryOfOrigin = Text(TextField.CountryOfOrigin, reader.Bytes());
                    break;
                case (7, Fixed64):
                    observation.Value = reader.Double();
                    break;
                case (8, Varint):
                    observation.Status = (ObservationStatus)(int)reader.Varint();
                    break;
                case (9, LengthDelimited):
                    observation.Note = Text(TextField.Note, reader.Bytes());
                    break;
                case (10, LengthDelimited):
                    observation.ApplicationType = Text(TextField.ApplicationType, reader.Bytes());
                    break;
                case (11, LengthDelimited):
                    observation.DecisionLevel = Text(TextField.DecisionLevel, reader.Bytes());
                    break;
                case (12, LengthDelimited):
                    observation.ProcedureType = Text(TextField.ProcedureType, reader.Bytes());
                    break;
                case (13, LengthDelimited):
                    observation.CountBasis = Text(TextField.CountBasis, reader.Bytes());
                    break;
                case (14, LengthDelimited):
                    observation.CountryOfDestination = Text(TextField.CountryOfDestination, reader.Bytes());
                    break;
                case (15, Varint):
                    observation.LowerBound = reader.Varint() != 0;
                    break;
                case (16, Varint):
                    observation.Confidentiality = (ConfidentialityStatus)(int)reader.Varint();
                    break;
                case (17, Varint):
                    observation.Synthetic = reader.Varint() != 0;
                    break;
                default:
                    return false;
            }
        }
        return true;
    }

    /// <summary>The time encoded, as <paramref name="last"/> itself when it is the same time; null for an encoding left to Google.Protobuf.</summary>
    private static Timestamp? ReadTime(ReadOnlySpan<byte> bytes, Timestamp? last)
    {
        long seconds = 0;
        var nanos = 0;
        var reader = new Reader(bytes);
        while (!reader.End)
        {
            var (field, type) = reader.Tag();
            switch (field, type)
            {
                case (1, Varint):
                    seconds = (long)reader.Varint();
                    break;
                case (2, Varint):
                    nanos = (int)reader.Varint();
                    break;
                default:
                    return null;
            }
        }
        return last is not null && last.Seconds == seconds && last.Nanos == nanos ? last : new Timestamp { Seconds = seconds, Nanos = nanos };
    }

    /// <summary>The policy encoded, as the last one decoded when its bytes are the same; null for an encoding left to Google.Protobuf.</summary>
    private SharingPolicy? ReadPolicy(ReadOnlySpan<byte> bytes)
    {
        if (_policy is not null && bytes.SequenceEqual(_policyBytes))
        {
            return _policy;
        }
        var policy = new SharingPolicy();
        var reader = new Reader(bytes);
        while (!reader.End)
        {
            var (field, type) = reader.Tag();
            switch (field, type)
            {
                case (1, Varint):
                    policy.Readers = (ReaderScope)(int)reader.Varint();
                    break;
                case (2, LengthDelimited):
                    policy.States.Add(Decoded(reader.Bytes()));
                    break;
                case (3, LengthDelimited) when policy.ReleaseTime is null:
                    if (ReadTime(reader.Bytes(), null) is not { } release)
                    {
                        return null;
                    }
                    policy.ReleaseTime = release;
                    break;
                case (4, Varint):
                    policy.SmallCountThreshold = (int)reader.Varint();
                    break;
                default:
                    return null;
            }
        }
        (_policy, _policyBytes) = (policy, bytes.ToArray());
        return policy;
    }

    private enum TextField { Origin, Indicator, Country, Period, Sex, Age, CountryOfOrigin, Note, ApplicationType, DecisionLevel, ProcedureType, CountBasis, CountryOfDestination, Count }

    /// <summary>A text field's value: the last one when the bytes are the same, else from the pool.</summary>
    private string Text(TextField field, ReadOnlySpan<byte> bytes)
    {
        var last = _last[(int)field];
        if (bytes.SequenceEqual(last.Bytes.AsSpan(0, last.Length)))
        {
            return last.Text;
        }
        last.Text = Decoded(bytes);
        if (bytes.Length > last.Bytes.Length)
        {
            last.Bytes = new byte[Math.Max(bytes.Length, 32)];
        }
        bytes.CopyTo(last.Bytes);
        last.Length = bytes.Length;
        return last.Text;
    }

    /// <summary>A text from the pool; bytes that are not UTF-8 are left to Google.Protobuf, which refuses them.</summary>
    private string Decoded(ReadOnlySpan<byte> bytes) =>
        System.Text.Unicode.Utf8.IsValid(bytes) ? _strings.Get(bytes) : throw new MalformedException();

    private sealed class LastText
    {
        public byte[] Bytes = [];
        public int Length;
        public string Text = "";
    }

    private sealed class MalformedException : Exception;

    /// <summary>The protobuf wire format, read forward; a truncated or malformed input throws <see cref="MalformedException"/>.</summary>
    private ref struct Reader(ReadOnlySpan<byte> bytes)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private int _position;

        public readonly bool End => _position >= _bytes.Length;

        public (int Field, int Type) Tag()
        {
            var tag = Varint();
            if (tag >> 3 is 0 or > int.MaxValue)
            {
                throw new MalformedException();
            }
            return ((int)(tag >> 3), (int)(tag & 7));
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (_position >= _bytes.Length)
                {
                    throw new MalformedException();
                }
                var b = _bytes[_position++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }
            throw new MalformedException();
        }

        public double Double()
        {
            if (_bytes.Length - _position < 8)
            {
                throw new MalformedException();
            }
            var value = BinaryPrimitives.ReadDoubleLittleEndian(_bytes.Slice(_position, 8));
            _position += 8;
            return value;
        }

        public ReadOnlySpan<byte> Bytes()
        {
            var length = Varint();
            if (length > (ulong)(_bytes.Length - _position))
            {
                throw new MalformedException();
            }
            var bytes = _bytes.Slice(_position, (int)length);
            _position += (int)length;
            return bytes;
        }
    }
}
