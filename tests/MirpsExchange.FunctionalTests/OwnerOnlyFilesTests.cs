using System.Runtime.Versioning;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using MirpsExchange.Cli.Federation;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Node.Extensions;
using MirpsExchange.ServiceDefaults;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// A node's store holds what its origins share with some readers only, its TLS key lets the holder pose as
/// the node, and its credential lets the holder read as its State: all are the service user's alone. A
/// node refuses to start when another user of the machine may read one, and creates its own owner-only.
/// </summary>
[UnsupportedOSPlatform("windows")]
public class OwnerOnlyFilesTests
{
    private const UnixFileMode OwnerFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerFolder = OwnerFile | UnixFileMode.UserExecute;
    private const UnixFileMode WorldReadable = OwnerFile | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary>Builds BLZ's node on the store in <paramref name="folder"/>/data, as Program.cs does, and returns why it would not.</summary>
    private static async Task<Exception?> BuildNodeAsync(string folder, params string[] extra) => await Record.ExceptionAsync(async () =>
    {
        var identity = await SharedIdentity.GetAsync();
        await using var app = await NodeApplication.BuildAsync(
        [
            "--Node:Country=BLZ", $"--Node:DataDirectory={Path.Combine(folder, "data")}", "--Node:Port=0",
            $"--Node:Issuer={identity.Issuer}", $"--contentRoot={folder}", "--Logging:LogLevel:Default=Warning", .. extra,
        ]);
    });

    [Fact]
    public async Task A_fresh_node_creates_its_store_folder_and_files_owner_only()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        await node.Observations.SubmitObservationsAsync(Submit(Refugees()));

        var folder = Path.GetDirectoryName(node.DatabasePath)!;
        Assert.Equal(OwnerFolder, File.GetUnixFileMode(folder));
        // SQLite deletes the -wal and -shm files when the last connection closes (the node's pool may have
        // closed its own by now): a reader holds them open while they are looked at.
        using var reader = new SqliteConnection($"Data Source={node.DatabasePath};Pooling=False");
        reader.Open();
        using (var read = reader.CreateCommand())
        {
            read.CommandText = "SELECT COUNT(*) FROM observations";
            Assert.Equal(1L, read.ExecuteScalar());
        }
        var files = Directory.GetFiles(folder, "node-blz.db*");
        // The store in write-ahead-log mode: SQLite gives its -wal and -shm files the database file's mode.
        Assert.Contains(node.DatabasePath + "-wal", files);
        Assert.Contains(node.DatabasePath + "-shm", files);
        Assert.All(files, file => Assert.True(File.GetUnixFileMode(file) == OwnerFile, $"{file}: {File.GetUnixFileMode(file)}"));
    }

    [Fact]
    public async Task A_fresh_Secretariat_creates_its_store_owner_only()
    {
        await using var secretariat = await TestSecretariat.StartAsync();

        var folder = Path.Combine(secretariat.Folder, "data");
        Assert.Equal(OwnerFolder, File.GetUnixFileMode(folder));
        var files = Directory.GetFiles(folder, "secretariat.db*");
        Assert.Contains(Path.Combine(folder, "secretariat.db"), files);
        Assert.All(files, file => Assert.True(File.GetUnixFileMode(file) == OwnerFile, $"{file}: {File.GetUnixFileMode(file)}"));
    }

    [Theory]
    [InlineData("node-blz.db", WorldReadable)]
    [InlineData("node-blz.db", OwnerFile | UnixFileMode.GroupRead)]
    [InlineData("node-blz.db-wal", WorldReadable)]
    [InlineData("", OwnerFolder | UnixFileMode.GroupRead | UnixFileMode.GroupExecute)]
    [InlineData("", OwnerFolder | UnixFileMode.OtherRead | UnixFileMode.OtherExecute)]
    public async Task A_store_file_or_folder_other_users_may_read_stops_the_node_naming_it(string name, UnixFileMode mode)
    {
        var folder = TempFolder.Create();
        try
        {
            // A store the node made and used, then widened (by hand, a backup tool, a copy with another umask).
            Assert.Null(await BuildNodeAsync(folder));
            var data = Path.Combine(folder, "data");
            var path = Path.Combine(data, name);
            if (!File.Exists(path) && !Directory.Exists(path))
            {
                OwnerOnlyFile.WriteAllText(path, ""); // a write-ahead log left behind by a crash
            }
            File.SetUnixFileMode(path, mode);

            var error = await BuildNodeAsync(folder);

            var refused = Assert.IsType<InvalidOperationException>(error);
            var full = Path.GetFullPath(path).TrimEnd('/');
            Assert.Contains($"{full}: other users of this machine can read or change it", refused.Message);
            Assert.Contains($"run `chmod {(name.Length == 0 ? "700" : "600")} {full}`", refused.Message);
            Assert.Equal(mode, File.GetUnixFileMode(path)); // refused, not silently changed
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            TempFolder.Delete(folder);
        }
    }

    [Fact]
    public async Task A_world_readable_TLS_key_stops_the_node_and_the_identity_server_naming_it()
    {
        var folder = TempFolder.Create();
        try
        {
            var certificates = Path.Combine(folder, "certs");
            DevelopmentCertificates.Ensure(certificates, ["blz", "identity"]);
            var ca = DevelopmentCertificates.CertificateFile(certificates, DevelopmentCertificates.CaName);
            var nodeKey = DevelopmentCertificates.KeyFile(certificates, "blz");
            var identityKey = DevelopmentCertificates.KeyFile(certificates, "identity");
            Assert.Equal(OwnerFile, File.GetUnixFileMode(nodeKey)); // as `mirps certs create` writes it
            File.SetUnixFileMode(nodeKey, WorldReadable);
            File.SetUnixFileMode(identityKey, WorldReadable);

            var node = await BuildNodeAsync(folder, TlsFederation.TlsArgs(certificates, "blz", ca));
            var identity = await Record.ExceptionAsync(() => TestIdentity.StartAsync(TlsFederation.TlsArgs(certificates, "identity", ca)));

            foreach (var (error, key) in new[] { (node, nodeKey), (identity, identityKey) })
            {
                var refused = Assert.IsType<InvalidOperationException>(error);
                Assert.Contains($"Tls:KeyFile {key}: other users of this machine can read or change it (mode 644)", refused.Message);
                Assert.Contains($"run `chmod 600 {key}`", refused.Message);
            }
            Assert.False(Directory.Exists(Path.Combine(folder, "data"))); // refused before the node created its store
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    [Theory]
    [InlineData("Node:Credential")]
    [InlineData("Node:ClientKeyFile")]
    public async Task A_world_readable_credential_or_client_key_file_stops_the_node_naming_it(string key)
    {
        var folder = TempFolder.Create();
        try
        {
            var credential = Path.Combine(folder, "secretariat.json");
            OwnerOnlyFile.WriteAllText(credential, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("")));
            // The client key file is checked before it is read (with tls_client_auth it is the whole credential).
            var clientKey = Path.Combine(folder, "client.key");
            OwnerOnlyFile.WriteAllText(clientKey, "not read before the check");
            var exposed = key == "Node:Credential" ? credential : clientKey;
            File.SetUnixFileMode(exposed, WorldReadable);
            string[] args = [$"--Node:Credential={credential}", "--Node:Peers:0:Address=http://127.0.0.1:1", "--Node:Peers:0:Origins:0=PAN", "--Node:Peers:0:Country=PAN",
                .. key == "Node:ClientKeyFile" ? new[] { $"--Node:ClientCertificateFile={clientKey}.crt", $"--Node:ClientKeyFile={clientKey}" } : []];

            var error = await BuildNodeAsync(folder, args);

            var refused = Assert.IsType<InvalidOperationException>(error);
            Assert.Contains($"{key} {exposed}: other users of this machine can read or change it (mode 644)", refused.Message);
            Assert.Contains($"run `chmod 600 {exposed}`", refused.Message);

            // Owner-only, the same configuration starts.
            File.SetUnixFileMode(exposed, OwnerFile);
            if (key == "Node:Credential")
            {
                Assert.Null(await BuildNodeAsync(folder, args));
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            TempFolder.Delete(folder);
        }
    }
}
