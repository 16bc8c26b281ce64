using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using MirpsExchange.Node.Store;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>Backup files as tests handle them: PAN's keys to sign and verify them with, and copies altered as another party would.</summary>
public static class BackupFiles
{
    /// <summary>PAN's log-signing key file, the key PAN's test nodes sign their logs (and backups) with, written into <paramref name="folder"/>.</summary>
    internal static async Task<string> PanKeyAsync(string folder) => await StateKeyAsync(folder, "PAN");

    /// <summary><paramref name="country"/>'s log-signing key file, as its test nodes have it, written into <paramref name="folder"/>.</summary>
    internal static async Task<string> StateKeyAsync(string folder, string country) => await TestLogKeys.FileAsync(await SharedIdentity.GetAsync(), country, folder);

    /// <summary>
    /// PAN's published log key (the public half alone, as the identity server publishes it and an operator fetches it after
    /// the node's disk was lost), for <c>mirps restore --log-key</c>: the arguments.
    /// </summary>
    internal static async Task<string[]> PanPublishedKeyArgsAsync(string folder)
    {
        using var key = ECDsa.Create();
        key.ImportFromPem(await File.ReadAllTextAsync(await PanKeyAsync(folder)));
        var file = Path.Combine(folder, "pan-published.pub.pem");
        if (!File.Exists(file))
        {
            await File.WriteAllTextAsync(file, key.ExportSubjectPublicKeyInfoPem());
        }
        return ["--log-key", file];
    }

    /// <summary>
    /// A copy of <paramref name="backup"/> as another party would make it: its SQLite store altered by <paramref name="sql"/>
    /// (the manifest's SHA-256 then made to match, unless <paramref name="keepSha256"/>), its manifest changed by
    /// <paramref name="change"/>, and signed again with the key in <paramref name="signWith"/> (else its signature kept as it was).
    /// </summary>
    internal static async Task RewriteAsync(string backup, string copy, Func<BackupManifest, BackupManifest>? change = null, string? sql = null, string? signWith = null,
        bool keepSha256 = false)
    {
        var work = TempFolder.Create();
        try
        {
            ZipFile.ExtractToDirectory(backup, work);
            var manifestFile = Path.Combine(work, StoreBackup.ManifestEntry);
            var manifest = JsonSerializer.Deserialize(await File.ReadAllTextAsync(manifestFile), BackupManifestJson.Default.BackupManifest)!;
            var store = Path.Combine(work, "store.db");
            if (sql is not null)
            {
                using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={store};Pooling=False"))
                {
                    connection.Open();
                    using var command = connection.CreateCommand();
                    command.CommandText = sql;
                    command.ExecuteNonQuery();
                }
                if (!keepSha256)
                {
                    manifest = manifest with { Sha256 = await StoreBackup.Sha256Async(store, CancellationToken.None) };
                }
            }
            manifest = change?.Invoke(manifest) ?? manifest;
            if (signWith is not null)
            {
                manifest = BackupSignature.Sign(manifest, signWith);
            }
            await File.WriteAllTextAsync(manifestFile, JsonSerializer.Serialize(manifest, BackupManifestJson.Default.BackupManifest));
            ZipFile.CreateFromDirectory(work, copy);
        }
        finally
        {
            TempFolder.Delete(work);
        }
    }
}
