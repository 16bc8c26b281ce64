using System.Buffers;
using Google.Protobuf;
using Mirps.Observation.V1;
using MirpsExchange.Node.Grpc;
using MirpsExchange.UnitTests.Sync;

namespace MirpsExchange.UnitTests.Grpc;

/// <summary>
/// A node decodes SubmitObservations' requests with its own decoder (texts pooled): whatever a writer sends, the request
/// must equal what Google.Protobuf's parser makes of the same bytes, and what that parser refuses is refused.
/// </summary>
public sealed class SubmitRequestDecoderTests
{
    private static SubmitObservationsRequest Request(string requestId = "") => new()
    {
        RequestId = requestId,
        Observations =
        {
            Observation("2024-01", "F", 120),
            Observation("2024-01", "M", 0, note: "Niñas y niños (cifras sintéticas)"),
            Observation("2024-02", "F", -3.25, note: string.Concat(Enumerable.Repeat("años ", 60))),
            Observation("2024-02", "M", double.NaN, note: "国籍不明"),
            new Observation { IndicatorCode = "ASYLUM_APPLICATIONS", Country = "BLZ", Period = "2024" }, // a value left out: 0, as Google.Protobuf has it
        },
    };

    private static Observation Observation(string period, string sex, double value, string note = "") => new()
    {
        IndicatorCode = "ASYLUM_APPLICATIONS", Country = "BLZ", Period = period, Sex = sex, Age = "Y18T59", CountryOfOrigin = "HND",
        Value = value, Status = ObservationStatus.Provisional, Note = note, ApplicationType = "NEW", LowerBound = true,
        Confidentiality = ConfidentialityStatus.Free, Synthetic = true,
    };

    [Fact]
    public void A_request_decodes_as_Google_Protobuf_parses_it_with_repeated_texts_shared()
    {
        var bytes = Request("3f2c9a1e-request").ToByteArray();

        var decoded = SubmitRequestDecoder.Decode(bytes);

        Assert.Equal(SubmitObservationsRequest.Parser.ParseFrom(bytes), decoded);
        Assert.Equal(SubmitObservationsRequest.Parser.ParseFrom(bytes), SubmitRequestDecoder.Decode(bytes)); // again, from a pool in use
        // Pooled: the rows' equal codes are one string (Google.Protobuf's parser makes one per row).
        Assert.Same(decoded.Observations[0].IndicatorCode, decoded.Observations[3].IndicatorCode);
        Assert.Same(decoded.Observations[0].Period, decoded.Observations[1].Period);
        Assert.Same(decoded.Observations[0].Sex, decoded.Observations[2].Sex);
        var parsed = SubmitObservationsRequest.Parser.ParseFrom(bytes);
        Assert.NotSame(parsed.Observations[0].IndicatorCode, parsed.Observations[3].IndicatorCode);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(-1_000_000)] // negative numbers and enum values: ten-byte varints
    public void Every_field_of_the_schema_is_decoded_as_Google_Protobuf_parses_it(int seed)
    {
        var request = new SubmitObservationsRequest();
        ChangeFeedDecoderTests.Fill(request, seed);
        var bytes = request.ToByteArray();

        var decoded = SubmitRequestDecoder.Decode(bytes);

        Assert.Equal(SubmitObservationsRequest.Parser.ParseFrom(bytes), decoded);
        Assert.Equal(2, decoded.Observations.Count);
    }

    [Fact]
    public void A_text_that_is_not_UTF8_is_refused_as_Google_Protobuf_refuses_it()
    {
        foreach (var text in new[] { "HND"u8.ToArray(), "3f2c9a1e"u8.ToArray() }) // a pooled text, and the request id
        {
            var bytes = Request("3f2c9a1e").ToByteArray();
            var at = bytes.AsSpan().IndexOf(text);
            bytes[at + 1] = 0xC3; // the start of a two-byte sequence, followed by an ASCII letter

            Assert.Throws<InvalidProtocolBufferException>(() => SubmitObservationsRequest.Parser.ParseFrom(bytes));
            Assert.Throws<InvalidProtocolBufferException>(() => SubmitRequestDecoder.Decode(bytes));
        }
    }

    [Fact]
    public void A_field_the_decoder_does_not_know_is_left_to_Google_Protobuf_and_kept()
    {
        // Field 40 of an observation, a varint: what a newer schema's client could send.
        var observation = Observation("2024-01", "F", 7).ToByteArray().Concat(new byte[] { 40 << 3 & 0xFF | 0x80, 40 >> 4, 1 }).ToArray();
        var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        output.WriteTag(2, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFrom(observation));
        output.Flush();
        var bytes = stream.ToArray();

        var decoded = SubmitRequestDecoder.Decode(bytes);

        Assert.Equal(SubmitObservationsRequest.Parser.ParseFrom(bytes), decoded);
        Assert.Equal("2024-01", decoded.Observations[0].Period);
        Assert.Equal(bytes, decoded.ToByteArray()); // the unknown field kept, as Google.Protobuf keeps it
    }

    [Fact]
    public void A_truncated_message_is_refused_as_Google_Protobuf_refuses_it()
    {
        var bytes = Request().ToByteArray();

        Assert.Throws<InvalidProtocolBufferException>(() => SubmitRequestDecoder.Decode(bytes.AsSpan(0, bytes.Length - 3)));
    }

    [Fact]
    public void A_message_in_several_buffers_decodes_as_one()
    {
        var bytes = Request().ToByteArray();
        var first = new ChangeFeedDecoderTests.Segment(bytes.AsMemory(0, 100));
        var last = first.Append(bytes.AsMemory(100));

        var decoded = SubmitRequestDecoder.Decode(new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length));

        Assert.Equal(Request(), decoded);
    }

    [Fact]
    public void A_reader_keeps_no_long_text_a_writer_sent_after_the_call()
    {
        // Any caller with a valid token reaches the decoder before the node knows whether it may write: a reader kept for
        // the next call must not keep a huge text it was sent (16 MB per field, per kept reader, for the process's life).
        var reader = new PooledObservationReader();
        var huge = new string('x', 8 << 20);
        var observation = new Observation();
        Assert.True(reader.ReadObservation(Observation("2024-01", "F", 1, note: huge).ToByteArray(), observation));
        Assert.Equal(huge, observation.Note);
        Assert.True(reader.RetainedBytes <= 64 * 1024, $"the reader keeps {reader.RetainedBytes:N0} bytes after an 8 MB note");

        // A note repeated on every row (at most 1,000 characters) is still decoded once.
        var note = string.Concat(Enumerable.Repeat("años ", 200));
        var (first, second) = (new Observation(), new Observation());
        reader.ReadObservation(Observation("2024-01", "F", 1, note: note).ToByteArray(), first);
        reader.ReadObservation(Observation("2024-02", "F", 1, note: note).ToByteArray(), second);
        Assert.Same(first.Note, second.Note);
    }
}
