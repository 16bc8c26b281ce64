using System.Buffers;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.Node.Grpc;
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
    private readonly Lock _lock = new();
    private readonly Method<StreamChangesRequest, StreamChangesResponse> _method;
    /// <summary>The observations' fields, and the origin and policies' texts, with their texts pooled.</summary>
    private readonly PooledObservationReader _texts = new();
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

    public StreamChangesResponse Decode(ReadOnlySequence<byte> payload) => WireReader.Contiguous<StreamChangesResponse>(payload, Decode);

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
            catch (MalformedWireException)
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
        var reader = new WireReader(payload);
        while (!reader.End)
        {
            var (field, type) = reader.Tag();
            switch (field, type)
            {
                case (1, WireType.LengthDelimited):
                    var change = new StoredObservation();
                    if (!ReadChange(reader.Bytes(), change))
                    {
                        return null;
                    }
                    response.Changes.Add(change);
                    break;
                case (2, WireType.Varint):
                    response.LastSequence = (long)reader.Varint();
                    break;
                case (3, WireType.LengthDelimited):
                    response.Heads.Add(LogHead.Parser.ParseFrom(reader.Bytes())); // one per commit: Google.Protobuf's parser is fine
                    break;
                case (4, WireType.Varint):
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
        var reader = new WireReader(bytes);
        while (!reader.End)
        {
            var (field, type) = reader.Tag();
            switch (field, type)
            {
                case (1, WireType.LengthDelimited) when change.Observation is null:
                    change.Observation = new Observation();
                    if (!_texts.ReadObservation(reader.Bytes(), change.Observation))
                    {
                        return false;
                    }
                    break;
                case (2, WireType.Varint):
                    change.Revision = (long)reader.Varint();
                    break;
                case (3, WireType.LengthDelimited):
                    change.Origin = _texts.Text(PooledObservationReader.TextField.Origin, reader.Bytes());
                    break;
                case (4, WireType.Varint):
                    change.OriginSequence = (long)reader.Varint();
                    break;
                case (5, WireType.LengthDelimited) when change.RecordedTime is null:
                    if (ReadTime(reader.Bytes(), _time) is not { } time)
                    {
                        return false;
                    }
                    change.RecordedTime = _time = time;
                    break;
                case (6, WireType.Varint):
                    change.Deleted = reader.Varint() != 0;
                    break;
                case (7, WireType.LengthDelimited) when change.Policy is null:
                    if (ReadPolicy(reader.Bytes()) is not { } policy)
                    {
                        return false;
                    }
                    change.Policy = policy;
                    break;
                case (8, WireType.Varint):
                    change.Withholding = (Withholding)(int)reader.Varint();
                    break;
                case (9, WireType.LengthDelimited):
                    change.Salt = Copy(reader.Bytes());
                    break;
                case (10, WireType.LengthDelimited):
                    change.ValueDigest = Copy(reader.Bytes());
                    break;
                case (11, WireType.LengthDelimited):
                    change.ContentDigest = Copy(reader.Bytes());
                    break;
                case (12, WireType.LengthDelimited) when change.ReceivedTime is null:
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

    /// <summary>The time encoded, as <paramref name="last"/> itself when it is the same time; null for an encoding left to Google.Protobuf.</summary>
    private static Timestamp? ReadTime(ReadOnlySpan<byte> bytes, Timestamp? last)
    {
        long seconds = 0;
        var nanos = 0;
        var reader = new WireReader(bytes);
        while (!reader.End)
        {
            var (field, type) = reader.Tag();
            switch (field, type)
            {
                case (1, WireType.Varint):
                    seconds = (long)reader.Varint();
                    break;
                case (2, WireType.Varint):
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
        var reader = new WireReader(bytes);
        while (!reader.End)
        {
            var (field, type) = reader.Tag();
            switch (field, type)
            {
                case (1, WireType.Varint):
                    policy.Readers = (ReaderScope)(int)reader.Varint();
                    break;
                case (2, WireType.LengthDelimited):
                    policy.States.Add(_texts.Decoded(reader.Bytes()));
                    break;
                case (3, WireType.LengthDelimited) when policy.ReleaseTime is null:
                    if (ReadTime(reader.Bytes(), null) is not { } release)
                    {
                        return null;
                    }
                    policy.ReleaseTime = release;
                    break;
                case (4, WireType.Varint):
                    policy.SmallCountThreshold = (int)reader.Varint();
                    break;
                case (5, WireType.Varint):
                    policy.DraftSharing = (DraftSharing)(int)reader.Varint();
                    break;
                default:
                    return null;
            }
        }
        (_policy, _policyBytes) = (policy, bytes.ToArray());
        return policy;
    }
}
