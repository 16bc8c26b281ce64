using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Data.Sqlite;

namespace MirpsExchange.Node.Store;

/// <summary>What a backup says of itself (manifest.json beside store.db in the backup file).</summary>
/// <param name="Country">Whose node's store it is: a State's ISO3, or "secretariat".</param>
/// <param name="HeadSequence">The node's own log's last change in it (0 for the Secretariat, which writes none).</param>
/// <param name="HeadHash">That change's link in the hash chain (hex; empty at 0).</param>
/// <param name="CatalogueVersion">The catalogue the store was last run on.</param>
/// <param name="Sha256">The SHA-256 of store.db (hex), or of store.dump on PostgreSQL.</param>
/// <param name="Provider">The store's provider: sqlite (store.db; a backup from before this field says none) or postgres (store.dump, pg_dump's custom format).</param>
/// <param name="KeyId">The key that signed the manifest (<see cref="BackupSignature"/>): the node's log-signing key's id; none in a backup from before signed manifests.</param>
/// <param name="Signature">The manifest's signature (base64, ECDSA P-256 over <see cref="BackupSignature.SignedBytes"/>: every other field).</param>
public sealed record BackupManifest(int Format, string Country, long HeadSequence, string HeadHash, string CatalogueVersion, DateTimeOffset Created, string Sha256, string? Provider = null,
    string? KeyId = null, string? Signature = null)
{
    public const string Sqlite = "sqlite";

    /// <summary>The store's provider (<see cref="Provider"/>; none: sqlite).</summary>
    public string ProviderName => Provider ?? Sqlite;

    public const int CurrentFormat = 1;
}

[JsonSerializable(typeof(BackupManifest))]
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
internal sealed partial class BackupManifestJson : JsonSerializerContext;

/// <summary>A backup or restore refused: the message says why; nothing was overwritten.</summary>
public sealed class BackupRefusedException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// <c>mirps backup</c> and <c>mirps restore</c> of a node's SQLite store (README, "Backup and recovery"). A backup is one
/// file: a zip of the store copied with SQLite's online backup API (consistent while the node writes; the copy reads
/// one snapshot) and a manifest naming whose store it is, its own log's head and its catalogue version, with the copy's
/// SHA-256. A restore checks all of it (the hash, SQLite's integrity check, the State stamped in the store, the head
/// held there) before it replaces anything, refuses while a node runs on the store (<see cref="StoreLock"/>), and keeps
/// the store it replaces beside it (.replaced-TIME). A PostgreSQL store (a connection string) is backed up with pg_dump
/// and restored with pg_restore, with the same manifest and checks (<see cref="PostgresBackup"/>).
/// </summary>
public static class StoreBackup
{
    private const string StoreEntry = "store.db";
    internal const string ManifestEntry = "manifest.json";

    /// <summary>
    /// The PostgreSQL store's connection string that <paramref name="store"/> is, or null when it names a SQLite store (a
    /// file, or a SQLite connection string, whose file <paramref name="sqliteFile"/> gives).
    /// </summary>
    public static string? PostgresStore(string store, out string sqliteFile)
    {
        sqliteFile = store;
        if (!store.Contains('=', StringComparison.Ordinal))
        {
            return null;
        }
        try
        {
            if (new SqliteConnectionStringBuilder(store).DataSource is { Length: > 0 } file)
            {
                sqliteFile = file;
                return null;
            }
        }
        catch (ArgumentException)
        {
            // not SQLite's keywords (Host=...): PostgreSQL's
        }
        return store;
    }

    /// <summary>The party a store belongs to, as SQLite's application_id in the store's header: 'M' and the three letters.</summary>
    public static int ApplicationId(string country)
    {
        var code = Party(country);
        return ('M' << 24) | (code[0] << 16) | (code[1] << 8) | code[2];
    }

    /// <summary>The party <see cref="ApplicationId"/> names ("secretariat" for SEC), or null when the store carries none.</summary>
    public static string? PartyOf(long applicationId)
    {
        if (applicationId >> 24 != 'M')
        {
            return null;
        }
        var code = new string([(char)((applicationId >> 16) & 0xFF), (char)((applicationId >> 8) & 0xFF), (char)(applicationId & 0xFF)]);
        return code == "SEC" ? Mirps.Auth.MirpsAuth.Secretariat : code;
    }

    /// <summary>
    /// The party <paramref name="country"/> names as an operator typed it (--country): "secretariat", or a MIRPS State's ISO3 code
    /// in ASCII letters (either case); refuses anything else, a look-alike letter from another script included (hostile review G).
    /// </summary>
    public static string RequestedParty(string country) =>
        country.All(char.IsAsciiLetter) && string.Equals(country, Mirps.Auth.MirpsAuth.Secretariat, StringComparison.OrdinalIgnoreCase) ? Mirps.Auth.MirpsAuth.Secretariat
        : country.Length == 3 && country.All(char.IsAsciiLetter) && ExactParty(country.ToUpperInvariant()) is { } code ? code
        : throw new BackupRefusedException("--country must be a MIRPS State's ISO3 code (ASCII letters) or secretariat; nothing was restored");

    /// <summary>
    /// <paramref name="code"/> when it is exactly a party's code, as a manifest or a store stamp must name it: "secretariat", or a
    /// State's ISO3 code of the catalogue's reporting countries, compared ordinally (no case or script folding, so a Cyrillic
    /// "А" in "PАN" is not PAN); otherwise null.
    /// </summary>
    public static string? ExactParty(string code) =>
        code == Mirps.Auth.MirpsAuth.Secretariat
        || code.Length == 3 && code.All(char.IsAsciiLetterUpper) && Catalogue.StandardCatalogue.LoadStandard().ReportingCountries.Contains(code)
            ? code : null;

    /// <summary>The three letters a store is stamped with: the State's ISO3, or SEC for the Secretariat.</summary>
    internal static string PartyCode(string country) => Party(country);

    private static string Party(string country) =>
        country.Length == 0 || string.Equals(country, Mirps.Auth.MirpsAuth.Secretariat, StringComparison.OrdinalIgnoreCase) ? "SEC" : country.ToUpperInvariant();

    /// <summary>
    /// SQLite's user_version of a store <see cref="RestoreAsync"/> wrote: the node must recover from its peers before it
    /// writes (as with Node:Recover), since the federation may hold changes after the backup; cleared once it has recovered.
    /// </summary>
    public const int RecoveryRequiredMark = 0x4D524543;

    /// <summary>
    /// Whether the store was restored from a backup and has not recovered since: on SQLite, <see cref="RecoveryRequiredMark"/>;
    /// on PostgreSQL, <see cref="PostgresTableMark"/> naming another table than the store's observations table (pg_restore
    /// makes the tables anew, and restores the comment that named the ones the dump was taken from). A PostgreSQL store that
    /// carries no mark yet (its first start, or a dump of a store from before the mark) is marked as it is, and is not restored.
    /// </summary>
    public static async Task<bool> RecoveryRequiredAsync(System.Data.Common.DbConnection connection, CancellationToken cancellationToken = default)
    {
        if (connection is not SqliteConnection)
        {
            var (mark, current) = await PostgresMarkAsync(connection, cancellationToken);
            if (mark is null)
            {
                await MarkPostgresAsync(connection, current, cancellationToken);
                return false;
            }
            return mark != current;
        }
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version";
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture) == RecoveryRequiredMark;
    }

    /// <summary>Clears <see cref="RecoveryRequiredMark"/> once the node recovered.</summary>
    public static async Task ClearRecoveryRequiredAsync(System.Data.Common.DbConnection connection, CancellationToken cancellationToken = default)
    {
        if (connection is not SqliteConnection)
        {
            await MarkPostgresAsync(connection, (await PostgresMarkAsync(connection, cancellationToken)).Current, cancellationToken);
            return;
        }
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA user_version = 0";
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// A PostgreSQL store's mark: the comment on its observations table names that table's object id. A dump keeps the
    /// comment; a restore (pg_restore, psql) makes the table anew with another id, so the mark no longer names it.
    /// </summary>
    public const string PostgresTableMark = "mirps:store-table=";

    /// <summary>The object id the PostgreSQL store's mark names (null: no mark), and its observations table's own.</summary>
    private static async Task<(string? Mark, string Current)> PostgresMarkAsync(System.Data.Common.DbConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT obj_description('{ObservationRowConfiguration.Table}'::regclass, 'pg_class'), CAST(CAST('{ObservationRowConfiguration.Table}'::regclass AS oid) AS bigint)";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var comment = reader.IsDBNull(0) ? null : reader.GetString(0);
        var current = reader.GetInt64(1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return (comment is not null && comment.StartsWith(PostgresTableMark, StringComparison.Ordinal) ? comment[PostgresTableMark.Length..] : null, current);
    }

    private static async Task MarkPostgresAsync(System.Data.Common.DbConnection connection, string current, CancellationToken cancellationToken)
    {
        // COMMENT takes no parameter; the text is a number the server gave.
        await CommentAsync(connection, ObservationRowConfiguration.Table, $"{PostgresTableMark}{long.Parse(current, System.Globalization.CultureInfo.InvariantCulture)}", cancellationToken);
    }

    /// <summary>
    /// Comments a table of the store. COMMENT needs the role to own the table: a role that does not (tables restored by
    /// another role) leaves it as it is, and the log's high-water mark (<see cref="RestoreDetection"/>) still finds a store
    /// put back.
    /// </summary>
    private static async Task CommentAsync(System.Data.Common.DbConnection connection, string table, string text, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"COMMENT ON TABLE {table} IS '{text}'";
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (Npgsql.PostgresException e) when (e.SqlState == Npgsql.PostgresErrorCodes.InsufficientPrivilege)
        {
            // not the table's owner
        }
    }

    /// <summary>A PostgreSQL store's party stamp: the comment on its catalogue_versions table, this and the three letters (<see cref="ApplicationId"/> on SQLite).</summary>
    public const string PostgresPartyMark = "mirps:party=";

    /// <summary>The party a PostgreSQL store is stamped with (<see cref="PostgresPartyMark"/>), or null when it carries none.</summary>
    internal static async Task<string?> PostgresPartyAsync(System.Data.Common.DbConnection connection, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT obj_description(to_regclass('catalogue_versions'), 'pg_class')";
        return await command.ExecuteScalarAsync(cancellationToken) is string comment && comment.StartsWith(PostgresPartyMark, StringComparison.Ordinal)
            && comment[PostgresPartyMark.Length..] is { Length: 3 } code
            ? code == "SEC" ? Mirps.Auth.MirpsAuth.Secretariat : code
            : null;
    }

    /// <summary>
    /// At the node's start: stamps the store with the node's party when it carries none, and refuses a store another
    /// party's node wrote (a backup of another State restored by hand).
    /// </summary>
    public static async Task StampAsync(System.Data.Common.DbConnection connection, string country, CancellationToken cancellationToken = default)
    {
        if (connection is not SqliteConnection)
        {
            var party = await PostgresPartyAsync(connection, cancellationToken);
            if (party is null)
            {
                await CommentAsync(connection, "catalogue_versions", PostgresPartyMark + Party(country), cancellationToken);
            }
            else if (Party(party) != Party(country))
            {
                throw new InvalidOperationException($"This store (database {connection.Database}) is {party}'s node's store; this node is {Party(country)}'s (Node:Country). Restore the node's own backup (mirps restore).");
            }
            return;
        }
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA application_id";
        var stamped = Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        var expected = ApplicationId(country);
        if (stamped == expected)
        {
            return;
        }
        if (PartyOf(stamped) is { } other)
        {
            throw new InvalidOperationException($"This store ({connection.DataSource}) is {other}'s node's store; this node is {Party(country)}'s (Node:Country). Restore the node's own backup (mirps restore).");
        }
        command.CommandText = $"PRAGMA application_id = {expected}";
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Backs up the store at <paramref name="store"/> (a running node's or a stopped one's) into the new file <paramref name="output"/>:
    /// a SQLite file, or a PostgreSQL connection string (pg_dump, found as <see cref="PostgresTools"/> says, <paramref name="postgresBin"/> first).
    /// The manifest is signed with the node's key (<see cref="BackupSignature"/>): <paramref name="keyFile"/>, or the one beside a
    /// SQLite store (a PostgreSQL store has no folder: name it).
    /// </summary>
    public static async Task<BackupManifest> BackupAsync(string store, string output, CancellationToken cancellationToken = default, string? postgresBin = null, string? keyFile = null)
    {
        if (PostgresStore(store, out store) is { } postgres)
        {
            return await PostgresBackup.BackupAsync(postgres, output, postgresBin, keyFile, cancellationToken);
        }
        if (!File.Exists(store))
        {
            throw new BackupRefusedException($"{store} is not a node's store: a SQLite file (Node:DataDirectory/node-COUNTRY.db, or ConnectionStrings:Store's Data Source) or a PostgreSQL connection string (Host=...;Database=...;Username=...)");
        }
        output = Path.GetFullPath(output);
        if (File.Exists(output))
        {
            throw new BackupRefusedException($"{output} exists already; a backup never overwrites a file");
        }
        var copy = output + $".{Guid.NewGuid():N}.tmp";
        try
        {
            using (var source = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = store, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString()))
            using (var destination = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = copy, Pooling = false }.ToString()))
            {
                source.Open();
                using (var busy = source.CreateCommand())
                {
                    busy.CommandText = "PRAGMA busy_timeout=30000";
                    busy.ExecuteNonQuery();
                }
                destination.Open();
                OwnerOnly(copy);
                source.BackupDatabase(destination); // one step: the whole store as of one read snapshot, while the node writes on
                Execute(destination, "PRAGMA journal_mode=DELETE"); // one self-contained file
            }
            var described = Describe(copy, await Sha256Async(copy, cancellationToken)) with { Provider = BackupManifest.Sqlite };
            var manifest = BackupSignature.Sign(described, keyFile ?? BackupSignature.KeyFileBeside(store, described.Country));
            var zip = output + $".{Guid.NewGuid():N}.zip.tmp";
            try
            {
                await using (var file = new FileStream(zip, StoreLock.OwnerOnlyCreate(FileMode.CreateNew, FileAccess.Write, FileShare.None)))
                using (var archive = new ZipArchive(file, ZipArchiveMode.Create))
                {
                    await using (var entry = archive.CreateEntry(ManifestEntry, CompressionLevel.Fastest).Open())
                    {
                        await JsonSerializer.SerializeAsync(entry, manifest, BackupManifestJson.Default.BackupManifest, cancellationToken);
                    }
                    await using var data = archive.CreateEntry(StoreEntry, CompressionLevel.Fastest).Open();
                    await using var read = File.OpenRead(copy);
                    await read.CopyToAsync(data, cancellationToken);
                }
                File.Move(zip, output);
            }
            finally
            {
                File.Delete(zip);
            }
            return manifest;
        }
        catch (SqliteException e)
        {
            throw new BackupRefusedException($"the store {store} could not be backed up: {e.Message}", e);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    /// <summary>
    /// Reads and checks the backup <paramref name="backup"/> without restoring it: refuses a file that is not a backup,
    /// is corrupt, or is another party's than <paramref name="country"/>.
    /// </summary>
    public static async Task<BackupManifest> VerifyAsync(string backup, string country, BackupTrust trust, CancellationToken cancellationToken = default)
    {
        country = RequestedParty(country);
        var folder = Path.GetDirectoryName(Path.GetFullPath(backup))!;
        var copy = Path.Combine(folder, $".verify-{Guid.NewGuid():N}.db");
        try
        {
            return await ExtractSqliteAsync(backup, country, trust.KeyFile ?? BackupSignature.KeyFileBeside(backup, country), trust.AcceptUnsigned, copy, cancellationToken);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    /// <summary>
    /// Restores <paramref name="backup"/> as the store at <paramref name="store"/> of <paramref name="country"/>'s node, which
    /// must be stopped. Everything is checked first; the store replaced (and its -wal, -shm files) is kept beside it, renamed
    /// .replaced-TIME. A node started on it recovers from its peers what the backup lacks of its log (Sync/OriginRecovery).
    /// The manifest's signature is verified first (<see cref="BackupSignature"/>) with <paramref name="trust"/>'s key, by default
    /// the key file beside the SQLite store restored (log-signing-key-pan.pem, or its published .pub.pem).
    /// </summary>
    /// <remarks>
    /// A PostgreSQL store (<paramref name="store"/> a connection string) is restored with pg_restore into its database, whose
    /// schema public is kept renamed (<see cref="PostgresBackup"/>); Replaced then names that schema.
    /// </remarks>
    public static async Task<(BackupManifest Manifest, string? Replaced)> RestoreAsync(string backup, string store, string country, BackupTrust trust,
        CancellationToken cancellationToken = default, string? postgresBin = null)
    {
        country = RequestedParty(country);
        if (PostgresStore(store, out store) is { } postgres)
        {
            return await PostgresBackup.RestoreAsync(backup, postgres, country, trust, postgresBin, cancellationToken);
        }
        store = Path.GetFullPath(store);
        var folder = Path.GetDirectoryName(store)!;
        if (!Directory.Exists(folder))
        {
            ServiceDefaults.OwnerOnlyFile.CreateDirectory(folder);
        }
        using var held = StoreLock.TryAcquire(store)
            ?? throw new BackupRefusedException($"a node is running on {store} (it holds {StoreLock.FileOf(store)}): stop it first; nothing was restored");
        var incoming = Path.Combine(folder, $".restore-{Guid.NewGuid():N}.db");
        try
        {
            var manifest = await ExtractSqliteAsync(backup, country, trust.KeyFile ?? BackupSignature.KeyFileBeside(store, country), trust.AcceptUnsigned, incoming, cancellationToken);
            if (File.Exists(store) && ReadPartyOf(store) is { } owner && owner != manifest.Country)
            {
                throw new BackupRefusedException($"the store at {store} is {owner}'s node's, not {manifest.Country}'s; nothing was restored");
            }
            using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = incoming, Pooling = false }.ToString()))
            {
                connection.Open();
                Execute(connection, "PRAGMA journal_mode=WAL"); // as a node's store always is
                Execute(connection, $"PRAGMA user_version = {RecoveryRequiredMark}"); // the node recovers before it writes
            }
            string? replaced = null;
            if (File.Exists(store))
            {
                replaced = $"{store}.replaced-{DateTime.UtcNow:yyyyMMddTHHmmssZ}";
                foreach (var suffix in new[] { "", "-wal", "-shm", "-journal" })
                {
                    if (File.Exists(store + suffix))
                    {
                        File.Move(store + suffix, replaced + suffix);
                    }
                }
            }
            File.Move(incoming, store);
            OwnerOnly(store);
            return (manifest, replaced);
        }
        finally
        {
            File.Delete(incoming);
        }
    }

    /// <summary>Extracts the backup's SQLite store to <paramref name="copy"/> and checks it against its manifest and <paramref name="country"/>.</summary>
    private static async Task<BackupManifest> ExtractSqliteAsync(string backup, string country, string keyFile, bool acceptUnsigned, string copy, CancellationToken cancellationToken)
    {
        var manifest = await ExtractAsync(backup, country, BackupManifest.Sqlite, StoreEntry, keyFile, acceptUnsigned, copy, cancellationToken);
        BackupManifest found;
        try
        {
            using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = copy, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString()))
            {
                connection.Open();
                using var check = connection.CreateCommand();
                check.CommandText = "PRAGMA integrity_check";
                if (check.ExecuteScalar() is not "ok" and var problem)
                {
                    throw new BackupRefusedException($"{backup} is corrupt: SQLite's integrity check says {problem}; nothing was restored");
                }
                RefuseForeignSchema(connection, backup);
            }
            found = Describe(copy, manifest.Sha256) with { Created = manifest.Created, Provider = manifest.Provider, KeyId = manifest.KeyId, Signature = manifest.Signature };
        }
        catch (SqliteException e)
        {
            throw new BackupRefusedException($"{backup} is corrupt: its store does not open ({e.Message}); nothing was restored", e);
        }
        if (found != manifest)
        {
            throw new BackupRefusedException($"{backup} is corrupt: its store holds {found.Country}'s log up to change {found.HeadSequence} ({found.HeadHash}), catalogue {found.CatalogueVersion}, " +
                $"but its manifest says {manifest.Country}, change {manifest.HeadSequence} ({manifest.HeadHash}), catalogue {manifest.CatalogueVersion}; nothing was restored");
        }
        return manifest;
    }

    /// <summary>
    /// Refuses a backup whose store holds a schema object (table, index, trigger, view) that the node's migrations do not
    /// create, or a table or index whose definition is not one a migration gave it: a trigger or view another party added
    /// would run inside the node (a trigger could widen every row's readers, so the node served its withheld figures).
    /// The known objects are read from stores made by the migrations, one migration at a time (a backup of an earlier
    /// release holds an earlier schema, which the node migrates at its start).
    /// </summary>
    private static void RefuseForeignSchema(SqliteConnection connection, string backup)
    {
        var known = MigratedSchema.Value;
        var foreign = new List<string>();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT type, name, sql FROM sqlite_master ORDER BY type, name";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var (type, name, sql) = (reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2));
            if (type == "table" && name.StartsWith("sqlite_stat", StringComparison.Ordinal))
            {
                continue; // ANALYZE's statistics: SQLite's own, read by its query planner only
            }
            if (!known.Contains(SchemaObject(type, name, sql)))
            {
                foreign.Add($"{type} {name}");
            }
        }
        if (foreign.Count > 0)
        {
            throw new BackupRefusedException($"{backup} holds what the node's migrations do not create ({string.Join(", ", foreign)}): " +
                "it is not a store this release made, and may have been altered; nothing was restored");
        }
    }

    private static string SchemaObject(string type, string name, string? sql) => $"{type}\n{name}\n{sql}";

    /// <summary>Every schema object (type, name, SQL) a store made by the node's migrations holds after any one of them.</summary>
    private static readonly Lazy<HashSet<string>> MigratedSchema = new(() =>
    {
        var file = Path.Combine(Path.GetTempPath(), $"mirps-schema-{Guid.NewGuid():N}.db");
        var known = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            var store = new SqliteConnectionStringBuilder { DataSource = file, Pooling = false }.ToString();
            using (var db = new NodeDbContext(StoreExtensions.Options(store)))
            {
                var migrator = Microsoft.EntityFrameworkCore.Infrastructure.AccessorExtensions.GetService<Microsoft.EntityFrameworkCore.Migrations.IMigrator>(db);
                foreach (var migration in Microsoft.EntityFrameworkCore.RelationalDatabaseFacadeExtensions.GetMigrations(db.Database))
                {
                    migrator.Migrate(migration);
                    using var connection = new SqliteConnection(store);
                    connection.Open();
                    using var command = connection.CreateCommand();
                    command.CommandText = "SELECT type, name, sql FROM sqlite_master";
                    using var reader = command.ExecuteReader();
                    while (reader.Read())
                    {
                        known.Add(SchemaObject(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
                    }
                }
            }
            return known;
        }
        finally
        {
            foreach (var suffix in new[] { "", "-wal", "-shm", "-journal" })
            {
                File.Delete(file + suffix);
            }
        }
    });

    /// <summary>
    /// Reads the backup's manifest and extracts its <paramref name="entry"/> (the store) to <paramref name="copy"/>, checked
    /// against the manifest's SHA-256; refuses a file that is not a backup, is corrupt, names no exact party code, is another
    /// party's than <paramref name="country"/>, is not signed with that party's key in <paramref name="keyFile"/> (unless
    /// unsigned and <paramref name="acceptUnsigned"/>), or is a backup of another provider's store than <paramref name="provider"/>.
    /// </summary>
    internal static async Task<BackupManifest> ExtractAsync(string backup, string country, string provider, string entry, string keyFile, bool acceptUnsigned, string copy,
        CancellationToken cancellationToken)
    {
        if (!File.Exists(backup))
        {
            throw new BackupRefusedException($"no backup file at {backup}");
        }
        BackupManifest manifest;
        try
        {
            await using var file = File.OpenRead(backup);
            using var archive = new ZipArchive(file, ZipArchiveMode.Read);
            var manifestEntry = archive.GetEntry(ManifestEntry)
                ?? throw new BackupRefusedException($"{backup} is not a node's backup (no {ManifestEntry} in it); nothing was restored");
            await using (var read = manifestEntry.Open())
            {
                manifest = await JsonSerializer.DeserializeAsync(read, BackupManifestJson.Default.BackupManifest, cancellationToken)
                    ?? throw new BackupRefusedException($"{backup}: its manifest is empty; nothing was restored");
            }
            if (manifest.Format != BackupManifest.CurrentFormat)
            {
                throw new BackupRefusedException($"{backup} is a backup of format {manifest.Format}, which this release does not read (it reads {BackupManifest.CurrentFormat}); nothing was restored");
            }
            if (ExactParty(manifest.Country) is null)
            {
                throw new BackupRefusedException($"{backup}: its manifest names no MIRPS party (\"{Printable(manifest.Country)}\" is not a State's ISO3 code in ASCII letters nor secretariat); nothing was restored");
            }
            if (manifest.Country != country)
            {
                throw new BackupRefusedException($"{backup} is a backup of {manifest.Country}'s node, not {country}'s; nothing was restored");
            }
            BackupSignature.Verify(manifest, backup, keyFile, acceptUnsigned);
            if (manifest.ProviderName != provider)
            {
                throw new BackupRefusedException($"{backup} is a backup of a {ProviderLabel(manifest.ProviderName)} store, and the store to restore is a {ProviderLabel(provider)} one: " +
                    "restore it into a store of its own kind (--store: a SQLite file, or a PostgreSQL connection string); nothing was restored");
            }
            var storeEntry = archive.GetEntry(entry)
                ?? throw new BackupRefusedException($"{backup} is not a node's backup (no {entry} in it); nothing was restored");
            await using (var read = storeEntry.Open())
            await using (var write = new FileStream(copy, StoreLock.OwnerOnlyCreate(FileMode.CreateNew, FileAccess.Write, FileShare.None)))
            {
                await read.CopyToAsync(write, cancellationToken);
            }
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or EndOfStreamException)
        {
            throw new BackupRefusedException($"{backup} is corrupt or not a node's backup ({e.Message}); nothing was restored", e);
        }
        if (!string.Equals(await Sha256Async(copy, cancellationToken), manifest.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new BackupRefusedException($"{backup} is corrupt: its store's SHA-256 is not the one its manifest names; nothing was restored");
        }
        return manifest;
    }

    /// <summary>A code as a message may quote it: letters outside ASCII shown as \\uXXXX, so a look-alike is seen for what it is.</summary>
    private static string Printable(string code) =>
        string.Concat(code.Take(16).Select(c => char.IsAsciiLetterOrDigit(c) ? c.ToString() : $"\\u{(int)c:X4}"));

    private static string ProviderLabel(string provider) => provider == BackupManifest.Sqlite ? "SQLite" : "PostgreSQL";

    /// <summary>The manifest of the store file <paramref name="copy"/>: whose it is, its own log's head, its catalogue.</summary>
    private static BackupManifest Describe(string copy, string sha256)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = copy, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA application_id";
        var party = PartyOf((long)command.ExecuteScalar()!)
            ?? throw new BackupRefusedException($"the store does not say whose node's it is (no MIRPS stamp): start the node on it once with this release, then back it up");
        var (sequence, hash) = (0L, "");
        if (party != Mirps.Auth.MirpsAuth.Secretariat)
        {
            var (last, _, link) = OriginLog.LinkAsync(connection, null, party, null, CancellationToken.None).GetAwaiter().GetResult();
            (sequence, hash) = (last, link is null ? "" : Convert.ToHexStringLower(link));
        }
        command.CommandText = "SELECT version FROM catalogue_versions WHERE holder = '' ORDER BY seen_time DESC LIMIT 1";
        var catalogue = command.ExecuteScalar() as string ?? "";
        return new BackupManifest(BackupManifest.CurrentFormat, party, sequence, hash, catalogue, DateTimeOffset.UtcNow, sha256);
    }

    /// <summary>The party stamped in a store file's header (application_id, bytes 68-71), read without opening it (a read-only open of a WAL store leaves files behind).</summary>
    private static string? ReadPartyOf(string store)
    {
        Span<byte> header = stackalloc byte[72];
        using var file = new FileStream(store, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length
            ? null
            : PartyOf(System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(header[68..]));
    }

    internal static async Task<string> Sha256Async(string file, CancellationToken cancellationToken)
    {
        await using var read = File.OpenRead(file);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(read, cancellationToken));
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static void OwnerOnly(string file)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}
