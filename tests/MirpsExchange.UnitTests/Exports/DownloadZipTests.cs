using System.IO.Compression;
using MirpsExchange.Catalogue.Exports;

namespace MirpsExchange.UnitTests.Exports;

/// <summary>A download's zip holds exactly its file and that file's provenance, each of a bounded size (third hostile review of 2026-12-07, finding C).</summary>
public class DownloadZipTests
{
    private const string Csv = "indicator_code,country,period,value\r\nREFUGEES,_Z,2023,240\r\n";

    private static MemoryStream Zip(params (string Name, string Text)[] entries)
    {
        var stream = new MemoryStream();
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, text) in entries)
            {
                using var writer = new StreamWriter(zip.CreateEntry(name).Open());
                writer.Write(text);
            }
        }
        stream.Position = 0;
        return stream;
    }

    [Fact]
    public void A_download_reads_as_its_file_and_provenance()
    {
        var (name, data, sidecar) = DownloadZip.Read(Zip(("regional.csv", Csv), ("regional.csv.provenance.json", "{}")), "d.zip");

        Assert.Equal("regional.csv", name);
        Assert.Equal(Csv, System.Text.Encoding.UTF8.GetString(data));
        Assert.Equal("{}", sidecar);
    }

    [Fact]
    public void An_entry_beside_the_file_and_its_provenance_is_refused_by_name()
    {
        var zip = Zip(("regional.csv", Csv), ("regional.csv.provenance.json", "{}"), ("regional-final.csv", Csv.Replace("240", "1240", StringComparison.Ordinal)));

        var refused = Assert.Throws<InvalidDataException>(() => DownloadZip.Read(zip, "d.zip"));

        Assert.Contains("regional-final.csv", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_entries_of_one_name_are_refused_by_name()
    {
        // GetEntry would read the first; unzip keeps the last, which is what a person opens.
        var zip = Zip(("regional.csv", Csv), ("regional.csv.provenance.json", "{}"), ("regional.csv", Csv.Replace("240", "1240", StringComparison.Ordinal)));

        var refused = Assert.Throws<InvalidDataException>(() => DownloadZip.Read(zip, "d.zip"));

        Assert.Contains("two entries named regional.csv", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_provenance_entries_are_refused_not_thrown_as_another_exception()
    {
        var zip = Zip(("regional.csv", Csv), ("regional.csv.provenance.json", "{}"), ("other.csv.provenance.json", "{}"));

        var refused = Assert.Throws<InvalidDataException>(() => DownloadZip.Read(zip, "d.zip"));

        Assert.Contains("other.csv.provenance.json", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_entry_larger_than_the_limit_is_refused_by_name_before_it_is_unpacked_whole()
    {
        var zip = Zip(("regional.csv", Csv + new string('0', 10_000)), ("regional.csv.provenance.json", "{}"));

        var refused = Assert.Throws<InvalidDataException>(() => DownloadZip.Read(zip, "d.zip", maxEntryBytes: 1_000));

        Assert.Contains("regional.csv", refused.Message, StringComparison.Ordinal);
        Assert.Contains("1,000", refused.Message, StringComparison.Ordinal);
    }
    /// <summary>
    /// A zip of the download's two entries whose <c>regional.csv</c> holds <paramref name="text"/> but whose local and central headers say it
    /// unpacks to <paramref name="claimed"/> bytes, with their checksum (a forger sets both; a checksum of the text claimed is no harder to write).
    /// </summary>
    private static MemoryStream Understated(string text, int claimed, CompressionLevel level)
    {
        var stream = new MemoryStream();
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            using (var data = new StreamWriter(zip.CreateEntry("regional.csv", level).Open()))
            {
                data.Write(text);
            }
            using var sidecar = new StreamWriter(zip.CreateEntry("regional.csv.provenance.json").Open());
            sidecar.Write("{}");
        }
        var bytes = stream.ToArray();
        var crc = Crc32(System.Text.Encoding.UTF8.GetBytes(text)[..Math.Min(claimed, text.Length)]);
        // Local header (PK 3 4): CRC at 14, size at 22, name at 30. Central header (PK 1 2): CRC at 16, size at 24, name at 46.
        foreach (var (signature, crcAt, sizeAt, nameAt) in new[] { (0x04034b50u, 14, 22, 30), (0x02014b50u, 16, 24, 46) })
        {
            for (var at = 0; at + nameAt + 12 <= bytes.Length; at++)
            {
                if (BitConverter.ToUInt32(bytes, at) == signature && System.Text.Encoding.ASCII.GetString(bytes, at + nameAt, 12) == "regional.csv")
                {
                    BitConverter.TryWriteBytes(bytes.AsSpan(at + crcAt, 4), crc);
                    BitConverter.TryWriteBytes(bytes.AsSpan(at + sizeAt, 4), (uint)claimed);
                }
            }
        }
        return new MemoryStream(bytes);
    }

    private static uint Crc32(byte[] bytes)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in bytes)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }
        return ~crc;
    }

    [Theory]
    [InlineData(CompressionLevel.Optimal)]
    [InlineData(CompressionLevel.NoCompression)]
    public void An_entry_holding_more_than_its_headers_say_is_refused_not_read_as_the_part_they_claim(CompressionLevel level)
    {
        // The signed rows, then a forged one: a reader that stops at the size claimed checks the first part, while unzip and Excel show the whole.
        var forged = Csv + "REFUGEES,_Z,2024,1240\r\n";

        var refused = Assert.Throws<InvalidDataException>(() => DownloadZip.Read(Understated(forged, Csv.Length, level), "d.zip"));

        Assert.Contains("regional.csv", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"the {Csv.Length} ", refused.Message, StringComparison.Ordinal);
        Assert.Contains("its headers say it unpacks to", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_deflate_bomb_claiming_little_is_refused_without_unpacking_it()
    {
        // 64 MB of zeros packs to about 64 KB; its headers say it unpacks to 10 bytes, under any limit.
        var bomb = new string('0', 64 * 1024 * 1024);
        var zip = new ReadCounter(Understated(bomb, 10, CompressionLevel.Optimal));
        var packed = zip.Length;

        var refused = Assert.Throws<InvalidDataException>(() => DownloadZip.Read(zip, "d.zip"));

        Assert.Contains("regional.csv", refused.Message, StringComparison.Ordinal);
        // Refused from its headers: far less read of the zip than the entry's packed bytes, let alone the 64 MB they unpack to.
        Assert.True(zip.BytesRead < packed / 4, $"{zip.BytesRead:N0} bytes read of a {packed:N0}-byte zip");
    }

    /// <summary>A stream that counts the bytes read from it.</summary>
    private sealed class ReadCounter(Stream inner) : Stream
    {
        public long BytesRead { get; private set; }

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => inner.Position = value; }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = inner.Read(buffer, offset, count);
            BytesRead += read;
            return read;
        }
        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
