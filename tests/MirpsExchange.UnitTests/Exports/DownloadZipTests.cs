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
}
