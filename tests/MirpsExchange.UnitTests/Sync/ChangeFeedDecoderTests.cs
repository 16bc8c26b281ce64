using System.Buffers;
using System.Collections;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.Node.Sync;

namespace MirpsExchange.UnitTests.Sync;

/// <summary>
/// A replica decodes its peers' feeds with its own decoder: whatever it is given, the result must equal what
/// Google.Protobuf's parser makes of the same bytes.
/// </summary>
public sealed class ChangeFeedDecoderTests
{
    private static StoredObservation Change(long sequence, string period, double value, SharingPolicy? policy, Timestamp time, string note = "", bool deleted = false,
        Withholding withholding = Withholding.Unspecified) => new()
    {
        Observation = new Observation
        {
            IndicatorCode = "ASYLUM_APPLICATIONS", Country = "CRI", Period = period, Sex = "F", Age = "Y18T59", CountryOfOrigin = "NIC",
            Value = value, Status = ObservationStatus.Provisional, Note = note,
        },
        Revision = sequence % 3 + 1,
        Origin = "CRI",
        OriginSequence = sequence,
        RecordedTime = time,
        Deleted = deleted,
        Policy = policy,
        Withholding = withholding,
    };

    private static StreamChangesResponse Feed()
    {
        var (first, second) = (new Timestamp { Seconds = 1_780_000_000, Nanos = 123_000 }, new Timestamp { Seconds = 1_780_000_001 });
        var all = new SharingPolicy { Readers = ReaderScope.AllStates };
        var listed = new SharingPolicy { Readers = ReaderScope.ListedStates, States = { "PAN", "GTM" }, ReleaseTime = new Timestamp { Seconds = 1_790_000_000 }, SmallCountThreshold = 5 };
        return new StreamChangesResponse
        {
            LastSequence = 42,
            Changes =
            {
                Change(1, "2024-01", 120, all, first),
                Change(2, "2024-02", 0, all, first, note: "Niñas y niños (cifras sintéticas)"),
                Change(3, "2024-Q1", -3.25, listed, first, note: string.Concat(Enumerable.Repeat("años ", 60))),
                Change(4, "2024", 4, listed, second, withholding: Withholding.SmallCount),
                Change(5, "2024-03", 0, null, second, deleted: true),
                new StoredObservation { Origin = "CRI", OriginSequence = 6, RecordedTime = second, Withholding = Withholding.Embargoed, Policy = listed },
                Change(7, "2024-04", double.NaN, all, second, note: "国籍不明"),
            },
        };
    }

    [Fact]
    public void A_feed_message_decodes_as_Google_Protobuf_parses_it_and_without_falling_back()
    {
        var bytes = Feed().ToByteArray();
        var decoder = new ChangeFeedDecoder();

        Assert.Equal(StreamChangesResponse.Parser.ParseFrom(bytes), decoder.Decode(bytes));
        Assert.Equal(StreamChangesResponse.Parser.ParseFrom(bytes), decoder.Decode(bytes)); // again, from the decoder's shared strings, times and policies
        Assert.Equal(0, decoder.Fallbacks);
    }

    [Fact]
    public void Repeated_times_and_policies_are_shared_and_a_change_of_either_is_not()
    {
        var decoded = new ChangeFeedDecoder().Decode(Feed().ToByteArray()).Changes;

        Assert.Same(decoded[0].RecordedTime, decoded[2].RecordedTime);
        Assert.NotSame(decoded[2].RecordedTime, decoded[3].RecordedTime);
        Assert.Equal(1_780_000_001, decoded[3].RecordedTime.Seconds);
        Assert.Same(decoded[0].Policy, decoded[1].Policy);
        Assert.NotSame(decoded[1].Policy, decoded[2].Policy);
        Assert.Equal(ReaderScope.ListedStates, decoded[2].Policy.Readers);
        Assert.Equal(ReaderScope.AllStates, decoded[1].Policy.Readers);
        Assert.Null(decoded[4].Policy);
    }

    /// <summary>
    /// Every field of every message in the feed, set: a field added to the schema later fails here until the
    /// decoder reads it (it would otherwise leave every message to the slower parser).
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(-1_000_000)] // negative numbers and enum values: ten-byte varints
    public void Every_field_of_the_schema_is_decoded_without_falling_back(int seed)
    {
        var response = new StreamChangesResponse();
        Fill(response, seed);
        var bytes = response.ToByteArray();
        var decoder = new ChangeFeedDecoder();

        var decoded = decoder.Decode(bytes);

        Assert.Equal(StreamChangesResponse.Parser.ParseFrom(bytes), decoded);
        Assert.Equal(2, decoded.Changes.Count);
        Assert.Equal(0, decoder.Fallbacks);
    }

    [Fact]
    public void Texts_times_and_policies_that_change_from_message_to_message_are_decoded_anew()
    {
        var decoder = new ChangeFeedDecoder();
        var first = Feed();
        var second = Feed();
        foreach (var change in second.Changes)
        {
            change.Origin = "PAN";
            change.RecordedTime = new Timestamp { Seconds = change.RecordedTime.Seconds + 60 };
            change.Policy = change.Policy is null ? new SharingPolicy { Readers = ReaderScope.SecretariatOnly } : null;
            if (change.Observation is { } o)
            {
                (o.Country, o.Period, o.Note) = ("PAN", o.Period + "-x", o.Note + "!");
            }
        }

        Assert.Equal(first, decoder.Decode(first.ToByteArray()));
        Assert.Equal(second, decoder.Decode(second.ToByteArray()));
        Assert.Equal(first, decoder.Decode(first.ToByteArray()));
        Assert.Equal(0, decoder.Fallbacks);
    }

    [Fact]
    public void A_text_that_is_not_UTF8_is_refused_as_Google_Protobuf_refuses_it()
    {
        var bytes = Feed().ToByteArray();
        var at = bytes.AsSpan().IndexOf("NIC"u8); // a country of origin
        bytes[at + 1] = 0xC3; // the start of a two-byte sequence, followed by 'C'

        Assert.Throws<InvalidProtocolBufferException>(() => StreamChangesResponse.Parser.ParseFrom(bytes));
        Assert.Throws<InvalidProtocolBufferException>(() => new ChangeFeedDecoder().Decode(bytes));
    }

    [Fact]
    public void A_field_the_decoder_does_not_know_is_left_to_Google_Protobuf_and_kept()
    {
        // Field 15 of a change, a varint: what a newer schema's node could send.
        var change = Change(1, "2024-01", 7, null, new Timestamp { Seconds = 5 }).ToByteArray().Concat(new byte[] { 15 << 3, 1 }).ToArray();
        var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        output.WriteTag(1, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(change));
        output.Flush();
        var bytes = stream.ToArray();
        var decoder = new ChangeFeedDecoder();

        var decoded = decoder.Decode(bytes);

        Assert.Equal(StreamChangesResponse.Parser.ParseFrom(bytes), decoded);
        Assert.Equal(1, decoder.Fallbacks);
        Assert.Equal("2024-01", decoded.Changes[0].Observation.Period);
    }

    [Fact]
    public void A_truncated_message_is_refused_as_Google_Protobuf_refuses_it()
    {
        var bytes = Feed().ToByteArray();

        Assert.Throws<InvalidProtocolBufferException>(() => new ChangeFeedDecoder().Decode(bytes.AsSpan(0, bytes.Length - 3)));
    }

    [Fact]
    public void A_message_in_several_buffers_decodes_as_one()
    {
        var bytes = Feed().ToByteArray();
        var first = new Segment(bytes.AsMemory(0, 100));
        var last = first.Append(bytes.AsMemory(100));

        var decoded = new ChangeFeedDecoder().Decode(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length));

        Assert.Equal(Feed(), decoded);
    }

    /// <summary>Sets every field of <paramref name="message"/>, and of the messages in it, to a value that is not its default.</summary>
    internal static void Fill(IMessage message, int seed)
    {
        foreach (var field in message.Descriptor.Fields.InDeclarationOrder())
        {
            if (field.IsRepeated)
            {
                var list = (IList)field.Accessor.GetValue(message);
                list.Add(ValueOf(field, seed));
                list.Add(ValueOf(field, seed + 1));
            }
            else
            {
                field.Accessor.SetValue(message, ValueOf(field, seed));
            }
        }
    }

    private static object ValueOf(FieldDescriptor field, int seed)
    {
        switch (field.FieldType)
        {
            case FieldType.String:
                return $"{field.Name}-{seed}";
            case FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64:
                return (long)(field.FieldNumber * 1000 + seed);
            case FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32:
                return field.FieldNumber * 10 + seed;
            case FieldType.UInt32 or FieldType.Fixed32:
                return unchecked((uint)(field.FieldNumber * 10 + seed));
            case FieldType.Double:
                return field.FieldNumber + seed / 4.0;
            case FieldType.Bool:
                return true;
            case FieldType.Bytes:
                return Google.Protobuf.ByteString.CopyFrom([.. Enumerable.Range(0, 16).Select(i => (byte)(field.FieldNumber + seed + i))]);
            case FieldType.Enum:
                return seed < 0 ? seed : field.EnumType.Values[^1].Number; // a value the schema does not name is kept as a number
            case FieldType.Message:
                var nested = (IMessage)Activator.CreateInstance(field.MessageType.ClrType)!;
                Fill(nested, seed + field.FieldNumber);
                return nested;
            default:
                throw new NotSupportedException($"{field.FullName}: a {field.FieldType} field; teach this test (and ChangeFeedDecoder) its type");
        }
    }

    internal sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
