using System.IO.Compression;

namespace MirpsExchange.Catalogue.Exports;

/// <summary>
/// A web download's zip, as `regional verify` reads it: one data file (CSV, SDMX-CSV or xlsx) and its provenance beside it,
/// <c>FILE.provenance.json</c>. Throws <see cref="InvalidDataException"/> naming what is not so.
/// </summary>
public static class DownloadZip
{
    /// <summary>The ending of the provenance entry's name.</summary>
    public const string SidecarSuffix = ".provenance.json";

    /// <summary>The most one entry may unpack to.</summary>
    public const long MaxEntryBytes = 256L * 1024 * 1024;

    /// <summary>The data entry's name and bytes and the provenance's text, from the zip in <paramref name="stream"/> (named <paramref name="name"/>).</summary>
    public static (string DataName, byte[] Data, string Sidecar) Read(Stream stream, string name, long maxEntryBytes = MaxEntryBytes)
    {
        using var zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        // GetEntry takes the first of two entries of one name, unzip the last: no name may repeat.
        if (zip.Entries.GroupBy(e => e.FullName, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new InvalidDataException($"{name} holds two entries named {twice.Key}; a download holds one file and its {SidecarSuffix}");
        }
        var sidecars = zip.Entries.Where(e => e.FullName.EndsWith(SidecarSuffix, StringComparison.Ordinal)).ToList();
        if (sidecars.Count != 1)
        {
            throw new InvalidDataException(sidecars.Count == 0 ? $"{name} holds no {SidecarSuffix}"
                : $"{name} holds {sidecars.Count} provenance entries ({string.Join(", ", sidecars.Select(e => e.FullName))}); a download holds one");
        }
        var sidecar = sidecars[0];
        var data = zip.GetEntry(sidecar.FullName[..^SidecarSuffix.Length])
            ?? throw new InvalidDataException($"{name} holds {sidecar.FullName} but not the export it describes");
        // Any other entry (a forged "-final.csv" beside them) is never verified: it is refused, not left for a person to open.
        if (zip.Entries.FirstOrDefault(e => e != data && e != sidecar) is { } other)
        {
            throw new InvalidDataException($"{name} holds {other.FullName} besides {data.FullName} and its provenance; a download holds only those two, and nothing else in it is verified");
        }
        var records = Records(stream, name, zip.Entries.Count);
        Bytes Of(ZipArchiveEntry entry) => new(stream, name, entry.FullName, records[zip.Entries.IndexOf(entry)], maxEntryBytes);
        return (data.FullName, Of(data).Unpack(), System.Text.Encoding.UTF8.GetString(Of(sidecar).Unpack()));
    }

    /// <summary>What the zip's central directory says of one entry: how it is packed, its sizes and where its local header is.</summary>
    private readonly record struct Record(int Method, long Packed, long Size, long Local);

    /// <summary>
    /// The central directory's records, in its order (<see cref="ZipArchive.Entries"/>' order), read from the end-of-directory record the
    /// download's writer puts last (no archive comment, no zip64: a download is far below 4 GB). ZipArchive does not say where an entry's
    /// data starts, and reads an entry only as far as its headers say it unpacks: both are needed to refuse an entry that holds more.
    /// </summary>
    private static List<Record> Records(Stream stream, string name, int count)
    {
        var end = At(stream, name, stream.Length - 22, 22, 0x06054b50, "its end-of-directory record");
        var (entries, directory) = (BitConverter.ToUInt16(end, 10), (long)BitConverter.ToUInt32(end, 16));
        if (entries != count)
        {
            throw new InvalidDataException($"{name}: its end-of-directory record says {entries} entries where the directory holds {count}; not as the download writes it");
        }
        var records = new List<Record>(entries);
        for (var i = 0; i < entries; i++)
        {
            var header = At(stream, name, directory, 46, 0x02014b50, $"entry {i + 1}'s central header");
            var record = new Record(BitConverter.ToUInt16(header, 10), BitConverter.ToUInt32(header, 20), BitConverter.ToUInt32(header, 24), BitConverter.ToUInt32(header, 42));
            if (record.Packed == uint.MaxValue || record.Size == uint.MaxValue || record.Local == uint.MaxValue)
            {
                throw new InvalidDataException($"{name}: entry {i + 1} is written as zip64, which a download never is");
            }
            records.Add(record);
            directory += 46 + BitConverter.ToUInt16(header, 28) + BitConverter.ToUInt16(header, 30) + BitConverter.ToUInt16(header, 32);
        }
        return records;
    }

    /// <summary>The <paramref name="length"/> bytes at <paramref name="offset"/>, which must begin with <paramref name="signature"/>.</summary>
    private static byte[] At(Stream stream, string name, long offset, int length, uint signature, string what)
    {
        var bytes = new byte[length];
        if (offset < 0 || offset + length > stream.Length)
        {
            throw new InvalidDataException($"{name}: {what} lies outside the file");
        }
        stream.Position = offset;
        stream.ReadExactly(bytes);
        return BitConverter.ToUInt32(bytes, 0) == signature ? bytes : throw new InvalidDataException($"{name}: {what} is not where the zip says");
    }

    /// <summary>One entry's data, unpacked only as far as its headers' size and refused when it holds more, or when that size is beyond <c>max</c>.</summary>
    private readonly record struct Bytes(Stream Zip, string Name, string Entry, Record Record, long Max)
    {
        private string Refusal(string why) => $"{Name}: {Entry} {why}";

        private string TooLarge() => Refusal($"unpacks to more than {Max.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} bytes, the most verify reads of one entry");

        public byte[] Unpack()
        {
            if (Record.Size > Max)
            {
                throw new InvalidDataException(TooLarge());
            }
            // Stored data is its size; deflated data is at most about 9 bits a byte (fixed codes) and a block's header and end: more packed bytes
            // than that is not this size packed (a bomb claiming little is refused here, before any of it is read).
            if (Record.Method == 0 ? Record.Packed != Record.Size : Record.Packed > Record.Size + Record.Size / 8 + 64)
            {
                throw new InvalidDataException(Refusal($"takes {Record.Packed} packed bytes for the {Record.Size} its headers say it unpacks to; not as the download writes it"));
            }
            var header = At(Zip, Name, Record.Local, 30, 0x04034b50, $"{Entry}'s local header");
            var start = Record.Local + 30 + BitConverter.ToUInt16(header, 26) + BitConverter.ToUInt16(header, 28);
            if (start + Record.Packed > Zip.Length)
            {
                throw new InvalidDataException(Refusal("ends beyond the end of the file"));
            }
            var packed = new byte[Record.Packed];
            Zip.Position = start;
            Zip.ReadExactly(packed);
            using var unpacking = Record.Method switch
            {
                0 => (Stream)new MemoryStream(packed, writable: false),
                8 => new DeflateStream(new MemoryStream(packed, writable: false), CompressionMode.Decompress),
                _ => throw new InvalidDataException(Refusal($"is packed with method {Record.Method}; a download's entries are stored or deflated")),
            };
            // One byte more than the headers say is read, and no more: an entry holding more is refused, however much more it holds.
            var data = new byte[Record.Size + 1];
            var read = 0;
            int last;
            while (read < data.Length && (last = unpacking.Read(data, read, data.Length - read)) > 0)
            {
                read += last;
            }
            return read == Record.Size ? data[..read]
                : throw new InvalidDataException(Refusal(read > Record.Size
                    ? $"holds more than the {Record.Size} bytes its headers say it unpacks to: a reader stopping there would check part of what unzip or Excel shows"
                    : $"holds {read} bytes where its headers say {Record.Size}"));
        }
    }
}
