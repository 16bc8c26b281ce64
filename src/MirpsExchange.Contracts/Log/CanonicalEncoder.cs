using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Mirps.Log;

/// <summary>
/// The canonical encoding the change log hashes and signs (protos/README.md, "The signed change log"): a
/// domain label and a zero byte, then fields in ascending field number, each as varint(number),
/// varint(length), bytes. A field at its default (empty text or bytes, 0, false) is left out, so a field
/// added later leaves every earlier hash as it was. Texts are UTF-8; integers 8 bytes big-endian; a double
/// its IEEE 754 bits big-endian (-0 as 0); true the byte 1. The caller adds fields in ascending order.
/// </summary>
public ref struct CanonicalEncoder
{
    private Span<byte> _buffer;
    private byte[]? _rented;
    private int _length;

    public CanonicalEncoder(Span<byte> initial, string domain)
    {
        _buffer = initial;
        _rented = null;
        _length = 0;
        Ensure(domain.Length + 1);
        _length += Encoding.ASCII.GetBytes(domain, _buffer[_length..]);
        _buffer[_length++] = 0;
    }

    public readonly ReadOnlySpan<byte> Written => _buffer[.._length];

    public void Text(int field, string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }
        var length = Encoding.UTF8.GetByteCount(value);
        Header(field, length);
        _length += Encoding.UTF8.GetBytes(value, _buffer[_length..]);
    }

    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return;
        }
        Header(field, value.Length);
        value.CopyTo(_buffer[_length..]);
        _length += value.Length;
    }

    /// <summary>Fields encoded before (<see cref="ChangeHash.PolicyFields"/>), appended as they are.</summary>
    public void Raw(ReadOnlySpan<byte> encoded)
    {
        Ensure(encoded.Length);
        encoded.CopyTo(_buffer[_length..]);
        _length += encoded.Length;
    }

    public void Int64(int field, long value)
    {
        if (value == 0)
        {
            return;
        }
        Header(field, 8);
        BinaryPrimitives.WriteInt64BigEndian(_buffer[_length..], value);
        _length += 8;
    }

    public void Double(int field, double value)
    {
        if (value == 0) // 0 and -0
        {
            return;
        }
        Header(field, 8);
        BinaryPrimitives.WriteDoubleBigEndian(_buffer[_length..], value);
        _length += 8;
    }

    public void Bool(int field, bool value)
    {
        if (!value)
        {
            return;
        }
        Header(field, 1);
        _buffer[_length++] = 1;
    }

    /// <summary>SHA-256 of what was written, into <paramref name="destination"/> (32 bytes).</summary>
    public readonly void Hash(Span<byte> destination) => Sha256.Hash(Written, destination);

    /// <summary>Returns a rented buffer, if the initial one was outgrown.</summary>
    public void Dispose()
    {
        if (_rented is not null)
        {
            ArrayPool<byte>.Shared.Return(_rented);
            _rented = null;
        }
    }

    private void Header(int field, int length)
    {
        Ensure(20 + length);
        Varint((ulong)field);
        Varint((ulong)length);
    }

    private void Varint(ulong value)
    {
        while (value >= 0x80)
        {
            _buffer[_length++] = (byte)(value | 0x80);
            value >>= 7;
        }
        _buffer[_length++] = (byte)value;
    }

    private void Ensure(int more)
    {
        if (_length + more <= _buffer.Length)
        {
            return;
        }
        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + more));
        _buffer[.._length].CopyTo(larger);
        if (_rented is not null)
        {
            ArrayPool<byte>.Shared.Return(_rented);
        }
        _rented = larger;
        _buffer = larger;
    }
}
