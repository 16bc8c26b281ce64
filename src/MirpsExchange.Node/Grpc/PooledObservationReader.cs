using System.Buffers;
using System.Buffers.Binary;
using Mirps.Observation.V1;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Grpc;

/// <summary>The wire types the hand-written decoders read (protobuf's encoding).</summary>
internal static class WireType
{
    public const int Varint = 0, Fixed64 = 1, LengthDelimited = 2;
}

/// <summary>
/// Observations read from protobuf's wire format with their texts pooled: codes, periods and countries repeat on
/// every row and are decoded once (<see cref="Utf8StringPool"/>), a field equal to the row before's is that row's string,
/// so a batch of 10,000 rows allocates its messages and next to no strings (Google.Protobuf's parser makes a string per
/// text field per row), and later comparisons of equal codes are by reference. Shared by a replica's feed
/// (<see cref="Sync.ChangeFeedDecoder"/>) and a submit's request (<see cref="SubmitRequestDecoder"/>). Not thread-safe:
/// one caller at a time.
/// </summary>
internal sealed class PooledObservationReader
{
    private readonly Utf8StringPool _strings = new();

    /// <summary>Per text field, the last value decoded and its bytes: consecutive rows mostly repeat a field's value.</summary>
    private readonly LastText[] _last = [.. Enumerable.Range(0, (int)TextField.Count).Select(_ => new LastText())];

    /// <summary>Whether the pool holds as many texts as it keeps (past it, new texts are decoded and not kept).</summary>
    public bool Full => _strings.Full;

    /// <summary>
    /// The longest text (UTF-8 bytes) kept as a field's last value: a note (at most 1,000 characters) repeated row after row
    /// is decoded once, and a longer text a caller made up is decoded and not kept (a reader lives on between calls).
    /// </summary>
    internal const int MaxKeptText = 4_096;

    /// <summary>The bytes this reader keeps for the fields' last values (not the pool's texts, each at most 128 characters).</summary>
    internal int RetainedBytes => _last.Sum(last => last.Bytes.Length);

    /// <summary>Reads an Observation's fields into <paramref name="observation"/>; false for an encoding left to Google.Protobuf (a field it does not know).</summary>
    public bool ReadObservation(ReadOnlySpan<byte> bytes, Observation observation)
    {
        var reader = new WireReader(bytes);
        while (!reader.End)
        {
            var (field, type) = reader.Tag();
            switch (field, type)
            {
                case (1, WireType.LengthDelimited):
                    observation.IndicatorCode = Text(TextField.Indicator, reader.Bytes());
                    break;
                case (2, WireType.LengthDelimited):
                    observation.Country = Text(TextField.Country, reader.Bytes());
                    break;
                case (3, WireType.LengthDelimited):
                    observation.Period = Text(TextField.Period, reader.Bytes());
                    break;
                case (4, WireType.LengthDelimited):
                    observation.Sex = Text(TextField.Sex, reader.Bytes());
                    break;
                case (5, WireType.LengthDelimited):
                    observation.Age = Text(TextField.Age, reader.Bytes());
                    break;
                case (6, WireType.LengthDelimited):
                    observation.CountryOfOrigin = Text(TextField.CountryOfOrigin, reader.Bytes());
                    break;
                case (7, WireType.Fixed64):
                    observation.Value = reader.Double();
                    break;
                case (8, WireType.Varint):
                    observation.Status = (ObservationStatus)(int)reader.Varint();
                    break;
                case (9, WireType.LengthDelimited):
                    observation.Note = Text(TextField.Note, reader.Bytes());
                    break;
                case (10, WireType.LengthDelimited):
                    observation.ApplicationType = Text(TextField.ApplicationType, reader.Bytes());
                    break;
                case (11, WireType.LengthDelimited):
                    observation.DecisionLevel = Text(TextField.DecisionLevel, reader.Bytes());
                    break;
                case (12, WireType.LengthDelimited):
                    observation.ProcedureType = Text(TextField.ProcedureType, reader.Bytes());
                    break;
                case (13, WireType.LengthDelimited):
                    observation.CountBasis = Text(TextField.CountBasis, reader.Bytes());
                    break;
                case (14, WireType.LengthDelimited):
                    observation.CountryOfDestination = Text(TextField.CountryOfDestination, reader.Bytes());
                    break;
                case (15, WireType.Varint):
                    observation.LowerBound = reader.Varint() != 0;
                    break;
                case (16, WireType.Varint):
                    observation.Confidentiality = (ConfidentialityStatus)(int)reader.Varint();
                    break;
                case (17, WireType.Varint):
                    observation.Synthetic = reader.Varint() != 0;
                    break;
                default:
                    return false;
            }
        }
        return true;
    }

    public enum TextField { Origin, Indicator, Country, Period, Sex, Age, CountryOfOrigin, Note, ApplicationType, DecisionLevel, ProcedureType, CountBasis, CountryOfDestination, Count }

    /// <summary>A text field's value: the last one when the bytes are the same, else from the pool.</summary>
    public string Text(TextField field, ReadOnlySpan<byte> bytes)
    {
        var last = _last[(int)field];
        if (bytes.SequenceEqual(last.Bytes.AsSpan(0, last.Length)))
        {
            return last.Text;
        }
        if (bytes.Length > MaxKeptText)
        {
            return Unpooled(bytes);
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

    /// <summary>A text decoded and not pooled (one that does not repeat); bytes that are not UTF-8 are left to Google.Protobuf, which refuses them.</summary>
    public static string Unpooled(ReadOnlySpan<byte> bytes) =>
        System.Text.Unicode.Utf8.IsValid(bytes) ? System.Text.Encoding.UTF8.GetString(bytes) : throw new MalformedWireException();

    /// <summary>A text from the pool; bytes that are not UTF-8 are left to Google.Protobuf, which refuses them.</summary>
    public string Decoded(ReadOnlySpan<byte> bytes) =>
        System.Text.Unicode.Utf8.IsValid(bytes) ? _strings.Get(bytes) : throw new MalformedWireException();

    private sealed class LastText
    {
        public byte[] Bytes = [];
        public int Length;
        public string Text = "";
    }
}

/// <summary>An input a hand-written decoder leaves to Google.Protobuf's parser, which refuses it with its own error.</summary>
internal sealed class MalformedWireException : Exception;

/// <summary>The protobuf wire format, read forward; a truncated or malformed input throws <see cref="MalformedWireException"/>.</summary>
internal ref struct WireReader(ReadOnlySpan<byte> bytes)
{
    private readonly ReadOnlySpan<byte> _bytes = bytes;
    private int _position;

    public readonly bool End => _position >= _bytes.Length;

    /// <summary>What <paramref name="decode"/> makes of <paramref name="payload"/> as one span (a payload in several buffers copied into a rented one).</summary>
    public static T Contiguous<T>(ReadOnlySequence<byte> payload, Func<ReadOnlySpan<byte>, T> decode)
    {
        if (payload.IsSingleSegment)
        {
            return decode(payload.FirstSpan);
        }
        var length = checked((int)payload.Length);
        var buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            payload.CopyTo(buffer);
            return decode(buffer.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public (int Field, int Type) Tag()
    {
        var tag = Varint();
        if (tag >> 3 is 0 or > int.MaxValue)
        {
            throw new MalformedWireException();
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
                throw new MalformedWireException();
            }
            var b = _bytes[_position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
        throw new MalformedWireException();
    }

    public double Double()
    {
        if (_bytes.Length - _position < 8)
        {
            throw new MalformedWireException();
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
            throw new MalformedWireException();
        }
        var bytes = _bytes.Slice(_position, (int)length);
        _position += (int)length;
        return bytes;
    }
}
