using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace MirpsExchange.Node.Store;

/// <summary>
/// <c>mirps backup</c> and <c>mirps restore</c> of a node's PostgreSQL store (README, "Backup and recovery"), the same
/// file and the same checks as SQLite's (<see cref="StoreBackup"/>): a zip of the store's pg_dump (custom format) and the
/// manifest. The dump and the manifest read one snapshot: the manifest's head is read in a REPEATABLE READ transaction
/// whose snapshot pg_dump takes (<c>--snapshot</c>), while the node writes on. A restore reads the whole dump first
/// (<c>pg_restore</c> into a script, so a damaged archive is refused before anything is touched), refuses while anyone
/// is connected to the database (the node must be stopped), then, in one transaction (psql <c>--single-transaction</c>):
/// renames the schema public to mirps_replaced_TIME (kept, as SQLite keeps the file it replaces), creates public anew,
/// runs the script, checks that what it restored is the manifest's State and log head, and marks the store restored. Any
/// failure rolls all of it back: nothing is overwritten.
/// </summary>
internal static class PostgresBackup
{
    public const string Provider = "postgres";
    private const string DumpEntry = "store.dump";

    public static async Task<BackupManifest> BackupAsync(string connectionString, string output, string? bin, string? keyFile, CancellationToken cancellationToken)
    {
        if (keyFile is null)
        {
            throw new BackupRefusedException("a backup is signed with the node's log-signing key (Node:LogSigningKeyFile): " +
                "a PostgreSQL store has no folder to find it in, so name it with --log-key");
        }
        output = Path.GetFullPath(output);
        if (File.Exists(output))
        {
            throw new BackupRefusedException($"{output} exists already; a backup never overwrites a file");
        }
        var store = Builder(connectionString);
        var dump = output + $".{Guid.NewGuid():N}.dump.tmp";
        var zip = output + $".{Guid.NewGuid():N}.zip.tmp";
        try
        {
            await using var connection = await OpenAsync(store, cancellationToken);
            // The manifest reads the snapshot pg_dump dumps: the transaction that exported it stays open until pg_dump is done.
            await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
            string snapshot;
            await using (var export = new NpgsqlCommand("SELECT pg_export_snapshot()", connection, transaction))
            {
                snapshot = (string)(await export.ExecuteScalarAsync(cancellationToken))!;
            }
            var party = StoreBackup.ExactParty(await StoreBackup.PostgresPartyAsync(connection, cancellationToken) ?? "")
                ?? throw new BackupRefusedException($"the store in database {store.Database} does not say whose node's it is (no MIRPS stamp): start the node on it once with this release, then back it up");
            var (sequence, hash) = (0L, "");
            if (party != Mirps.Auth.MirpsAuth.Secretariat)
            {
                var (last, _, link) = await OriginLog.LinkAsync(connection, transaction, party, null, cancellationToken);
                (sequence, hash) = (last, link is null ? "" : Convert.ToHexStringLower(link));
            }
            string catalogue;
            await using (var version = new NpgsqlCommand("SELECT version FROM catalogue_versions WHERE holder = '' ORDER BY seen_time DESC LIMIT 1", connection, transaction))
            {
                catalogue = await version.ExecuteScalarAsync(cancellationToken) as string ?? "";
            }
            new FileStream(dump, StoreLock.OwnerOnlyCreate(FileMode.CreateNew, FileAccess.Write, FileShare.None)).Dispose(); // owner-only before pg_dump writes it
            // The store is the schema public (a schema a restore kept, mirps_replaced_TIME, is not part of it).
            await PostgresTools.RunAsync("pg_dump", bin, store, ["--format=custom", "--schema=public", $"--snapshot={snapshot}", $"--file={dump}", $"--dbname={store.Database}"], cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            var manifest = BackupSignature.Sign(
                new BackupManifest(BackupManifest.CurrentFormat, party, sequence, hash, catalogue, DateTimeOffset.UtcNow, await StoreBackup.Sha256Async(dump, cancellationToken), Provider), keyFile);
            await using (var file = new FileStream(zip, StoreLock.OwnerOnlyCreate(FileMode.CreateNew, FileAccess.Write, FileShare.None)))
            using (var archive = new ZipArchive(file, ZipArchiveMode.Create))
            {
                await using (var entry = archive.CreateEntry(StoreBackup.ManifestEntry, CompressionLevel.Fastest).Open())
                {
                    await JsonSerializer.SerializeAsync(entry, manifest, BackupManifestJson.Default.BackupManifest, cancellationToken);
                }
                await using var data = archive.CreateEntry(DumpEntry, CompressionLevel.NoCompression).Open(); // pg_dump's custom format is compressed already
                await using var read = File.OpenRead(dump);
                await read.CopyToAsync(data, cancellationToken);
            }
            File.Move(zip, output);
            return manifest;
        }
        catch (NpgsqlException e)
        {
            throw new BackupRefusedException($"the store in database {store.Database} could not be backed up: {e.Message}", e);
        }
        finally
        {
            File.Delete(dump);
            File.Delete(zip);
        }
    }

    public static async Task<(BackupManifest Manifest, string? Replaced)> RestoreAsync(string backup, string connectionString, string country, BackupTrust trust, string? bin,
        CancellationToken cancellationToken)
    {
        var store = Builder(connectionString);
        var keyFile = trust.KeyFile ?? throw new BackupRefusedException(
            $"a backup's manifest is verified with {country}'s node's log-signing key: a PostgreSQL store has no folder to find it in, so name it with --log-key " +
            "(the key file, or the State's published public key, log-signing-key-COUNTRY.pub.pem); nothing was restored");
        var folder = Path.Combine(Path.GetTempPath(), $"mirps-restore-{Guid.NewGuid():N}");
        ServiceDefaults.OwnerOnlyFile.CreateDirectory(folder); // the dump and its script hold the store's figures
        try
        {
            var dump = Path.Combine(folder, DumpEntry);
            var manifest = await StoreBackup.ExtractAsync(backup, country, Provider, DumpEntry, keyFile, trust.AcceptUnsigned, dump, cancellationToken);
            // The whole archive is read before the target is touched: a damaged one fails here.
            var script = Path.Combine(folder, "restore.sql");
            string contents;
            try
            {
                contents = await PostgresTools.RunAsync("pg_restore", bin, store, ["--list", dump], cancellationToken);
                await PostgresTools.RunAsync("pg_restore", bin, store, ["--no-owner", "--no-privileges", $"--file={script}", dump], cancellationToken);
            }
            catch (BackupRefusedException e)
            {
                throw new BackupRefusedException($"{backup} is corrupt: its dump does not read ({e.Message}); nothing was restored", e);
            }
            RefuseForeignEntries(contents, backup);
            RefuseForeignStatements(File.ReadLines(script), backup);
            var replaced = $"mirps_replaced_{DateTime.UtcNow:yyyyMMddTHHmmssfff}".ToLowerInvariant();
            try
            {
                // Held to the end: no node starts on the database while it is restored.
                using var held = await StoreLock.TryAcquirePostgresAsync(store.ToString(), cancellationToken)
                    ?? throw new BackupRefusedException($"a node is running on the database {store.Database} (it holds the store's advisory lock): stop it first; nothing was restored");
                await using (var connection = await OpenAsync(store, cancellationToken))
                {
                    await using (var others = new NpgsqlCommand($"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND application_name <> '{StoreLock.PostgresApplicationName}'", connection))
                    {
                        if ((long)(await others.ExecuteScalarAsync(cancellationToken))! is var count and > 0)
                        {
                            throw new BackupRefusedException($"{count} other session(s) are connected to the database {store.Database} (is the node running on it?): stop the node first; nothing was restored");
                        }
                    }
                    if (await StoreBackup.PostgresPartyAsync(connection, cancellationToken) is { } owner && owner != manifest.Country)
                    {
                        throw new BackupRefusedException($"the store in database {store.Database} is {owner}'s node's, not {manifest.Country}'s; nothing was restored");
                    }
                }
                var before = Path.Combine(folder, "before.sql");
                // A dump of the schema public (mirps backup's) creates it; one of the whole database does not.
                var createsPublic = contents.Split('\n').Any(line => (line.TrimEnd() + " ").Contains(" SCHEMA - public ", StringComparison.Ordinal));
                await File.WriteAllTextAsync(before, $"ALTER SCHEMA public RENAME TO {replaced};\n{(createsPublic ? "" : "CREATE SCHEMA public;\n")}", cancellationToken);
                var after = Path.Combine(folder, "after.sql");
                await File.WriteAllTextAsync(after, Checks(manifest), cancellationToken);
                await PostgresTools.RunAsync("psql", bin, store,
                    ["--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1", "--single-transaction", $"--dbname={store.Database}", $"--file={before}", $"--file={script}", $"--file={after}"],
                    cancellationToken);
            }
            catch (NpgsqlException e)
            {
                throw new BackupRefusedException($"the database {store.Database} could not be reached: {e.Message}; nothing was restored", e);
            }
            catch (BackupRefusedException e) when (e.Message.StartsWith("psql failed", StringComparison.Ordinal))
            {
                throw new BackupRefusedException($"{backup} could not be restored into the database {store.Database}, and its transaction was rolled back ({e.Message}); nothing was restored", e);
            }
            return (manifest, replaced);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// The kinds of entry a dump of a store the migrations made holds (pg_restore --list): tables, their rows, indexes,
    /// constraints, identity sequences and column defaults, the comments that stamp the store, and the schema public (and its privileges, which a restore leaves out). A
    /// FUNCTION, TRIGGER, PROCEDURE, RULE, POLICY, EXTENSION, VIEW or any other kind is not one of them. Longest first
    /// (TABLE DATA before TABLE).
    /// </summary>
    private static readonly string[] KnownEntryTypes =
        ["SEQUENCE OWNED BY", "SEQUENCE SET", "SEQUENCE", "TABLE DATA", "TABLE", "INDEX", "FK CONSTRAINT", "CONSTRAINT", "DEFAULT", "COMMENT", "SCHEMA", "ACL"];

    /// <summary>
    /// Refuses a dump that holds an entry the node's migrations do not create (hostile review A): pg_restore writes every
    /// entry into the script psql runs as the node's role, so a function, trigger or rule another party added would run
    /// inside the store. Each entry of the dump's list (<paramref name="list"/>, pg_restore --list: "ID; OID OID TYPE SCHEMA
    /// NAME OWNER") must be of a kind <see cref="KnownEntryTypes"/> names, in the schema public, and name the model's
    /// tables, columns, indexes, keys and identity sequences only.
    /// </summary>
    internal static void RefuseForeignEntries(string list, string backup)
    {
        var names = ModelNames.Value;
        var foreign = new List<string>();
        foreach (var line in list.Split('\n'))
        {
            var entry = line.Trim();
            if (entry.Length == 0 || entry.StartsWith(';'))
            {
                continue; // the list's header
            }
            var id = entry.IndexOf(';', StringComparison.Ordinal);
            var fields = id < 0 ? [] : entry[(id + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // fields: the catalogue's OID, the object's OID, the type (one word or more), the schema, the name, the owner
            var rest = fields.Length > 2 ? string.Join(' ', fields[2..]) : "";
            var type = KnownEntryTypes.FirstOrDefault(known => rest.StartsWith(known + " ", StringComparison.Ordinal));
            var words = type is null ? [] : rest[(type.Length + 1)..].Split(' ');
            // the schema, then the name's words; the owner last (when the dump names one)
            var known = type switch
            {
                null => false,
                "SCHEMA" => words is ["-", "public", ..] && words.Length <= 3,
                "ACL" => words is ["-", "SCHEMA", "public", ..] && words.Length <= 4, // a schema public made anew by a restore; the restore leaves privileges out (--no-privileges)
                "COMMENT" => words is ["-", "SCHEMA", "public", ..] && words.Length <= 4
                    || words is ["public", "TABLE", var table, ..] && words.Length <= 4 && names.Contains(table),
                _ => words.Length is >= 2 and <= 4 && words[0] == "public" && words[1..^(words.Length > 2 ? 1 : 0)].All(names.Contains),
            };
            if (!known)
            {
                foreign.Add(entry.Length > 120 ? entry[..120] : entry);
            }
        }
        if (foreign.Count > 0)
        {
            throw new BackupRefusedException($"{backup} holds what the node's migrations do not create ({string.Join("; ", foreign)}): " +
                "it is not a store this release made, and may have been altered; nothing was restored");
        }
    }

    /// <summary>
    /// Statements a script of the store's schema never holds (outside the rows COPY reads): what would create code that runs
    /// inside the database, read or write files or programs, or change roles and privileges.
    /// </summary>
    private static readonly System.Text.RegularExpressions.Regex ForeignStatement = new(
        @"\bCREATE\s+(OR\s+REPLACE\s+)?(FUNCTION|PROCEDURE|(CONSTRAINT\s+|EVENT\s+)?TRIGGER|RULE|POLICY|EXTENSION|(MATERIALIZED\s+)?VIEW|AGGREGATE|OPERATOR|CAST|" +
        @"(TRUSTED\s+)?(PROCEDURAL\s+)?LANGUAGE|SERVER|FOREIGN|PUBLICATION|SUBSCRIPTION|ROLE|USER|TRANSFORM|CONVERSION|TYPE|DOMAIN|SCHEMA\s+(?!public\b)|TABLESPACE|DATABASE)\b" +
        @"|\bPROGRAM\b|\bALTER\s+(SYSTEM|ROLE|USER|DEFAULT\s+PRIVILEGES|DATABASE|FUNCTION|PROCEDURE|EXTENSION|SCHEMA|LANGUAGE)\b|\bGRANT\b|\bREVOKE\b|\bDO\b" +
        @"|\bSECURITY\s+DEFINER\b|\bLO_(IMPORT|EXPORT)\b|\bSET\s+(SESSION\s+|LOCAL\s+)?(ROLE|SESSION\s+AUTHORIZATION)\b|\bLOAD\b|\bCALL\b|\bEXECUTE\b|\bPREPARE\b" +
        @"|\bPG_(READ|WRITE|LS_DIR|STAT_FILE|FILE)|\bDBLINK|\bROW\s+LEVEL\s+SECURITY\b",
        System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>A COPY that reads the rows that follow it in the script into one of the store's tables (the only COPY a dump's script holds).</summary>
    private static readonly System.Text.RegularExpressions.Regex CopyFromScript = new(@"^COPY public\.([a-z_]+|""[A-Za-z_]+"") \([^;]*\) FROM stdin;$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>
    /// Refuses a restore script (pg_restore's, <paramref name="lines"/>) that holds, outside the rows COPY reads, a statement
    /// <see cref="ForeignStatement"/> names, another COPY than one from the script into a table, or a psql meta-command (a
    /// line starting with a backslash, but pg_restore's own \restrict and \unrestrict). The list of entries
    /// (<see cref="RefuseForeignEntries"/>) says what kind each entry claims to be; a crafted archive could give an entry of
    /// a kind the list allows the text of another, and this reads the text psql would run.
    /// </summary>
    internal static void RefuseForeignStatements(IEnumerable<string> lines, string backup)
    {
        var schema = new StringBuilder();
        var rows = false;
        var foreign = new List<string>();
        foreach (var line in lines)
        {
            if (rows)
            {
                rows = line != "\\.";
                continue;
            }
            if (line.StartsWith("--", StringComparison.Ordinal))
            {
                continue;
            }
            if (line.StartsWith('\\'))
            {
                if (!line.StartsWith("\\restrict ", StringComparison.Ordinal) && !line.StartsWith("\\unrestrict ", StringComparison.Ordinal))
                {
                    foreign.Add(line.Length > 80 ? line[..80] : line);
                }
                continue;
            }
            if (line.TrimStart().StartsWith("COPY", StringComparison.OrdinalIgnoreCase))
            {
                if (CopyFromScript.IsMatch(line))
                {
                    rows = true;
                    continue;
                }
                foreign.Add(line.Length > 80 ? line[..80] : line);
                rows = line.EndsWith("FROM stdin;", StringComparison.Ordinal);
                continue;
            }
            schema.Append(line).Append('\n');
        }
        // As written, and with comments removed, so that none hides a keyword's parts (CREATE/**/FUNCTION); the text as written
        // too, since what looks like a comment may lie inside a string ('--'), and psql runs what follows it.
        var text = schema.ToString();
        var bare = System.Text.RegularExpressions.Regex.Replace(text, @"/\*.*?\*/|--[^\n]*", " ", System.Text.RegularExpressions.RegexOptions.Singleline);
        foreign.AddRange(ForeignStatement.Matches(text).Concat(ForeignStatement.Matches(bare)).Select(match => match.Value));
        if (foreign.Count > 0)
        {
            throw new BackupRefusedException($"{backup} holds statements a store the node's migrations made does not ({string.Join("; ", foreign.Distinct().Take(10))}): " +
                "it may have been altered; nothing was restored");
        }
    }

    /// <summary>The names a store the migrations made gives its objects: tables, columns, indexes, keys, foreign keys, identity sequences.</summary>
    private static readonly Lazy<HashSet<string>> ModelNames = new(() =>
    {
        using var db = new PostgresNodeDbContext(StoreExtensions.PostgresOptions("Host=localhost;Database=mirps"));
        var model = Microsoft.EntityFrameworkCore.RelationalModelExtensions.GetRelationalModel(
            Microsoft.EntityFrameworkCore.Infrastructure.AccessorExtensions.GetService<Microsoft.EntityFrameworkCore.Metadata.IDesignTimeModel>(db).Model);
        var names = new HashSet<string>(StringComparer.Ordinal) { "__EFMigrationsHistory", "PK___EFMigrationsHistory", "MigrationId", "ProductVersion" };
        foreach (var table in model.Tables)
        {
            names.Add(table.Name);
            foreach (var column in table.Columns)
            {
                names.Add(column.Name);
                names.Add($"{table.Name}_{column.Name}_seq");
            }
            names.UnionWith(table.Indexes.Select(index => index.Name));
            names.UnionWith(table.UniqueConstraints.Select(key => key.Name));
            names.UnionWith(table.ForeignKeyConstraints.Select(key => key.Name));
        }
        return names;
    });

    /// <summary>
    /// The end of the restore's transaction: what the script restored must be the manifest's party and log head (else the
    /// transaction fails and nothing is restored); then the store is marked restored (the explicit mark, <see cref="StoreBackup.RecoveryRequiredAsync"/>).
    /// </summary>
    private static string Checks(BackupManifest manifest)
    {
        var party = StoreBackup.PartyCode(manifest.Country);
        if (!party.All(char.IsAsciiLetterUpper) || party.Length != 3 || !manifest.HeadHash.All(char.IsAsciiHexDigit))
        {
            throw new BackupRefusedException($"the backup's manifest names {manifest.Country} and head {manifest.HeadHash}: not a node's backup; nothing was restored");
        }
        var sql = new StringBuilder();
        sql.Append(CultureInfo.InvariantCulture, $"""
            DO $$
            DECLARE stamp text := obj_description('public.catalogue_versions'::regclass, 'pg_class');
            DECLARE s bigint; h bytea;
            BEGIN
              IF stamp IS DISTINCT FROM '{StoreBackup.PostgresPartyMark}{party}' THEN
                RAISE EXCEPTION 'mirps: the dump is the store of %, not of {party} as its manifest says', COALESCE(stamp, 'no party');
              END IF;
            """);
        if (party != "SEC")
        {
            var origin = manifest.Country;
            sql.Append(CultureInfo.InvariantCulture, $"""

                  SELECT origin_sequence, change_hash INTO s, h FROM (
                    SELECT origin_sequence, change_hash FROM public.observations WHERE origin = '{origin}'
                    UNION ALL SELECT origin_sequence, change_hash FROM public.withheld_changes WHERE origin = '{origin}') AS held
                  ORDER BY origin_sequence DESC LIMIT 1;
                  IF COALESCE(s, 0) <> {manifest.HeadSequence} OR COALESCE(encode(h, 'hex'), '') <> '{manifest.HeadHash.ToLowerInvariant()}' THEN
                    RAISE EXCEPTION 'mirps: the dump holds {origin}''s log up to change %, but its manifest says change {manifest.HeadSequence}', COALESCE(s, 0);
                  END IF;
                """);
        }
        sql.Append(CultureInfo.InvariantCulture, $"""

            END $$;
            COMMENT ON TABLE public.{ObservationRowConfiguration.Table} IS '{StoreBackup.PostgresTableMark}0';

            """);
        return sql.ToString();
    }

    private static NpgsqlConnectionStringBuilder Builder(string connectionString)
    {
        try
        {
            var store = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false };
            return store.Database is { Length: > 0 } ? store : throw new BackupRefusedException("the store's connection string names no Database");
        }
        catch (ArgumentException e)
        {
            throw new BackupRefusedException($"the store's connection string is not a PostgreSQL one ({e.Message})", e);
        }
    }

    private static async Task<NpgsqlConnection> OpenAsync(NpgsqlConnectionStringBuilder store, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(store.ToString());
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}
