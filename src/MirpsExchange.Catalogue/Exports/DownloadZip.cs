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
        return (data.FullName, Bytes(name, data, maxEntryBytes), System.Text.Encoding.UTF8.GetString(Bytes(name, sidecar, maxEntryBytes)));
    }

    /// <summary>An entry's bytes, refused when its directory says it unpacks beyond <paramref name="max"/> or it does so however it is declared (a deflate bomb).</summary>
    private static byte[] Bytes(string name, ZipArchiveEntry entry, long max)
    {
        string TooLarge() => $"{name}: {entry.FullName} unpacks to more than {max.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} bytes, the most verify reads of one entry";
        if (entry.Length > max)
        {
            throw new InvalidDataException(TooLarge());
        }
        using var stream = entry.Open();
        using var copy = new MemoryStream();
        var buffer = new byte[81_920];
        int read;
        while ((read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, max + 1 - copy.Length))) > 0)
        {
            copy.Write(buffer, 0, read);
            if (copy.Length > max)
            {
                throw new InvalidDataException(TooLarge());
            }
        }
        return copy.ToArray();
    }
}
