#if MIRPS_TEST_POSTGRES
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using MirpsExchange.Cli.Federation;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Node.Store;
using MirpsExchange.Node.Sync;
using Npgsql;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;
using static MirpsExchange.FunctionalTests.Infrastructure.RecoveryFederation;
using static MirpsExchange.FunctionalTests.Infrastructure.BackupFiles;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// A PostgreSQL store restored with pg_restore (README, "Backup and recovery") is marked as SQLite's restored store is:
/// the node refuses writes until it has recovered from its peers, so it never reuses a sequence the federation holds.
/// </summary>
public class PostgresRestoreTests
{
    /// <summary>
    /// PAN's store dumped with pg_dump at change 4; PAN then writes change 5 (which peers would hold), and its store is lost.
    /// The dump is restored with pg_restore into a new database, and the node started on it with no peer answering: it must
    /// not take change 5 again for a new submit. Writes stay refused (RECOVERY_QUORUM_MISSING: the Secretariat did not answer).
    /// </summary>
    [Fact]
    public async Task A_store_restored_with_pg_restore_refuses_writes_until_recovered_even_when_no_peer_answers()
    {
        var folder = TempFolder.Create();
        var databases = new List<string>();
        try
        {
            await RefusedAfterARestoreByHandAsync(folder, keyFolderKept: false, databases,
                (server, database, dump) => PgAsync("pg_restore", server, "--no-owner", $"--dbname={database}", dump));
        }
        finally
        {
            await DropAsync(databases.SingleOrDefault());
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// F8: the same dump restored with <c>pg_restore --no-comments</c>, or as a data-only restore into tables made beforehand
    /// (no comment mark either way), while the node's log-signing key folder stayed: the node signed its log up to change 5
    /// (its high-water mark beside the key), the store holds it up to change 4, so it must recover first; with no peer
    /// answering, writes stay refused.
    /// </summary>
    [Theory]
    [InlineData("--no-comments")]
    [InlineData("--data-only")]
    public async Task A_store_restored_by_hand_without_its_mark_is_found_by_how_far_the_node_signed_and_refuses_writes(string how)
    {
        var folder = TempFolder.Create();
        var databases = new List<string>();
        try
        {
            var refusal = await RefusedAfterARestoreByHandAsync(folder, keyFolderKept: true, databases, async (server, database, dump) =>
            {
                if (how == "--data-only")
                {
                    await PgAsync("pg_restore", server, "--no-owner", "--schema-only", "--no-comments", $"--dbname={database}", dump); // the tables, as migrations make them
                }
                await PgAsync("pg_restore", server, "--no-owner", how, $"--dbname={database}", dump);
            });
            Assert.Contains("but this node signed them up to change 5", refusal, StringComparison.Ordinal);
        }
        finally
        {
            await DropAsync(databases.SingleOrDefault());
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// PAN's node (its key folder kept across its stores when <paramref name="keyFolderKept"/>) dumped with pg_dump at change 4;
    /// then change 5, and the store is lost; <paramref name="restore"/> puts the dump back by hand into a new database (added to
    /// <paramref name="databases"/>, given the server, the database's name and the dump); the node started on it with no peer
    /// answering refuses writes for want of a quorum. Returns why.
    /// </summary>
    private static async Task<string> RefusedAfterARestoreByHandAsync(string folder, bool keyFolderKept, List<string> databases,
        Func<NpgsqlConnectionStringBuilder, string, string, Task> restore)
    {
        var port = FreePort();
        string[] key = keyFolderKept ? [$"--Node:LogSigningKeyFile={await TestLogKeys.FileAsync(await SharedIdentity.GetAsync(), "PAN", folder)}"] : [];
        var pan = await PanamaAsync([$"--Node:Port={port}", .. key]);
        var server = new NpgsqlConnectionStringBuilder(pan.Store!.ConnectionString);
        var dump = Path.Combine(folder, "pan.dump");
        await PgAsync("pg_dump", server, "--format=custom", $"--file={dump}", server.Database!);
        await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300))); // change 5
        var restored = await DatabaseAsync(pan.Store);
        databases.Add(restored);
        await pan.DisposeAsync();
        await restore(server, new NpgsqlConnectionStringBuilder(restored).Database!, dump);

        var nobody = $"http://127.0.0.1:{FreePort()}"; // its peer is down
        await using var started = await TestNode.StartAsync("PAN", null,
            [ShareWithAll, $"--Node:Port={port}", .. key, "--Node:RecoveryCheckTimeout=00:00:02", "--Store:Provider=postgres", $"--ConnectionStrings:Store={restored}",
             .. await PeersArgsAsync(folder, (nobody, "secretariat"))]);
        return await RefusedForWantOfQuorumAsync(started);
    }

    /// <summary>
    /// The recovery quorum over a restored PostgreSQL store (RecoveryQuorumTests' case, on a pg_dump): PAN's store dumped at
    /// change 4; change 5 written, and held by the Secretariat; the store lost and the older dump put back with pg_restore
    /// (the node's key folder, and so its high-water mark at change 5, kept). CRI's node shows PAN's true head (change 5)
    /// but serves change 5 with another value. While the Secretariat is out of reach, CRI alone is no quorum: writes stay
    /// refused (RECOVERY_QUORUM_MISSING, naming the mark), and CRI is not even asked for PAN's log. Once the Secretariat
    /// answers, CRI (tried first) is refused for its forged page with nothing of it written, the node recovers change 5 from
    /// the Secretariat as PAN signed it, and its next submit is change 6, which the Secretariat verifies on PAN's chain.
    /// </summary>
    [Fact]
    public async Task A_store_restored_from_an_older_pg_dump_waits_for_its_quorum_refuses_a_lone_hostile_peers_forged_page_and_recovers_from_the_quorum()
    {
        var folder = TempFolder.Create();
        string? restored = null;
        try
        {
            var port = FreePort();
            var key = $"--Node:LogSigningKeyFile={await TestLogKeys.FileAsync(await SharedIdentity.GetAsync(), "PAN", folder)}";
            var (secretariat, changes, heads) = await DumpedBehindTheSecretariatAsync(folder, port, key, 1);
            await using var held = secretariat;
            restored = changes.Restored;
            var forged = changes.Log.Select(c => c.Clone()).ToList();
            forged[^1].Observation.Value = 3000; // change 5, altered: PAN's chain no longer verifies
            await using var hostile = await MaliciousPeer.StartAsync("CRI");
            (hostile.Holds, hostile.Head) = (5, heads[^1]); // PAN's own signature on its true head
            hostile.RequestScript = request => RecoveryTests.Serve(request, forged, heads);
            await using var gate = new TcpGate(secretariat.Address); // the Secretariat: every connection held until opened

            await using var started = await TestNode.StartAsync("PAN", null,
            [
                ShareWithAll, $"--Node:Port={port}", key, "--Node:RecoveryCheckTimeout=00:00:02", "--Node:RecoveryRetryInterval=00:00:01",
                "--Store:Provider=postgres", $"--ConnectionStrings:Store={restored}", .. await PeersArgsAsync(folder, hostile.Peer, (gate.Address, "secretariat")),
            ]);
            started.Errors.Expect("OriginRecoverySourceRefused"); // CRI's forged page, once the quorum answered
            var refusal = await RefusedForWantOfQuorumAsync(started);
            Assert.Contains("Secretariat", refusal, StringComparison.Ordinal);
            Assert.Contains("but this node signed them up to change 5", refusal, StringComparison.Ordinal);
            await Task.Delay(TimeSpan.FromSeconds(2)); // two more checks, CRI alone answering
            await RpcAssert.ReasonAsync(() => started.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2025", value: 310))).ResponseAsync,
                StatusCode.FailedPrecondition, OriginRecovery.QuorumMissing);
            lock (hostile.Requests)
            {
                Assert.DoesNotContain(hostile.Streams, s => s.Origin == "PAN"); // no quorum: nothing is pulled, from anyone
            }
            Assert.Equal(4, PanLog(started, restored).Count);

            gate.Open();
            await EventuallyAsync(() => Task.FromResult(started.Services.GetRequiredService<RecoveryState>().Refusal), refusal => refusal is null, "the node recovered from its quorum");
            lock (hostile.Requests)
            {
                Assert.Contains(hostile.Streams, s => s.Origin == "PAN"); // asked first, its page refused
            }
            Assert.Equal(PanLog(secretariat), PanLog(started, restored)); // change 5 as PAN signed it (300), not CRI's 3000
            await ContinuesAsync(started, secretariat, 6, "2025", 310, store: restored);
        }
        finally
        {
            await DropAsync(restored);
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// The high-water mark as a floor on a restored PostgreSQL store (BackupTests' case, on a pg_dump restored with
    /// --no-comments: only the mark tells). PAN signed changes 5 to 7 after its dump; the Secretariat answers with PAN's
    /// genuine but stale head at change 4 and holds nothing beyond. The quorum proves change 4, but the node signed up to 7:
    /// writes stay refused (RECOVERY_BELOW_HIGH_WATER), check after check, with nothing written. When the Secretariat shows
    /// and serves PAN's log up to change 7, the next check recovers it, and the next submit is change 8, not a second change 5.
    /// </summary>
    [Fact]
    public async Task A_store_restored_from_an_older_pg_dump_signs_nothing_below_its_high_water_mark_until_it_has_recovered_up_to_it()
    {
        var folder = TempFolder.Create();
        string? restored = null;
        try
        {
            var port = FreePort();
            var key = $"--Node:LogSigningKeyFile={await TestLogKeys.FileAsync(await SharedIdentity.GetAsync(), "PAN", folder)}";
            var (real, changes, heads) = await DumpedBehindTheSecretariatAsync(folder, port, key, 3, "--no-comments");
            restored = changes.Restored;
            await real.DisposeAsync(); // the Secretariat PAN's node reaches below answers as a stale one would
            await using var secretariat = await MaliciousPeer.StartAsync("secretariat");
            (secretariat.Holds, secretariat.Head) = (4, heads.Single(h => h.Sequence == 4)); // PAN's own signature, stale
            secretariat.RequestScript = request => RecoveryTests.Serve(request, [.. changes.Log.Where(c => c.OriginSequence <= secretariat.Holds)], heads);

            await using var started = await TestNode.StartAsync("PAN", null,
            [
                ShareWithAll, $"--Node:Port={port}", key, "--Node:RecoveryRetryInterval=00:00:01",
                "--Store:Provider=postgres", $"--ConnectionStrings:Store={restored}", .. await PeersArgsAsync(folder, secretariat.Peer),
            ]);
            await RefusedBelowHighWaterAsync(started);
            Assert.Equal(4, PanLog(started, restored).Count);

            (secretariat.Holds, secretariat.Head) = (7, heads[^1]); // it has pulled changes 5 to 7 now
            await EventuallyAsync(() => Task.FromResult(started.Services.GetRequiredService<RecoveryState>().Refusal), refusal => refusal is null, "the node recovered up to its high-water mark");
            Assert.Equal(7, PanLog(started, restored).Count);
            Assert.Equal(8, (await started.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2025", value: 310)))).LastOriginSequence);
        }
        finally
        {
            await DropAsync(restored);
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// PAN's node on PostgreSQL (its key <paramref name="key"/> in a folder that outlives it) and the Secretariat pulling it;
    /// the store dumped with pg_dump at change 4, then <paramref name="after"/> more changes (5, ...) written and held by the
    /// Secretariat; PAN's own log as it served it then (every change, its heads); the node stopped, its store lost, and the
    /// dump put back with pg_restore (and <paramref name="restoreOptions"/>) into a new database (Restored).
    /// </summary>
    private static async Task<(TestSecretariat Secretariat, (List<Mirps.Observation.V1.StoredObservation> Log, string Restored) Changes, List<Mirps.Observation.V1.LogHead> Heads)>
        DumpedBehindTheSecretariatAsync(string folder, int port, string key, int after, params string[] restoreOptions)
    {
        var pan = await PanamaAsync($"--Node:Port={port}", key);
        var secretariat = await SecretariatAsync(folder, $"http://127.0.0.1:{port}");
        var server = new NpgsqlConnectionStringBuilder(pan.Store!.ConnectionString);
        var dump = Path.Combine(folder, "pan.dump");
        await PgAsync("pg_dump", server, "--format=custom", $"--file={dump}", server.Database!); // change 4
        foreach (var period in new[] { "2022", "2023", "2024" }.Take(after))
        {
            await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: period, value: 300))); // changes 5, ...
        }
        await SecretariatHoldsAsync(secretariat, 4 + after);
        var (log, heads) = await RecoveryTests.OwnLogAsync(pan);
        var restored = await DatabaseAsync(pan.Store);
        await pan.DisposeAsync(); // the store is lost
        await PgAsync("pg_restore", server, ["--no-owner", .. restoreOptions, $"--dbname={new NpgsqlConnectionStringBuilder(restored).Database}", dump]);
        return (secretariat, (log, restored), heads);
    }

    /// <summary>
    /// F8: COMMENT needs the role to own the table. PAN's store restored by an administrator (pg_restore as the superuser,
    /// without comments), which the node's own role may read and write but does not own: the node still starts, finds the
    /// store put back by how far it signed its log, recovers change 5 from the Secretariat and writes change 6.
    /// </summary>
    [Fact]
    public async Task A_node_whose_role_does_not_own_its_tables_starts_finds_its_store_put_back_and_recovers()
    {
        var folder = TempFolder.Create();
        string? restored = null;
        var role = "pan_" + Guid.NewGuid().ToString("N");
        NpgsqlConnectionStringBuilder? server = null;
        try
        {
            var port = FreePort();
            var key = $"--Node:LogSigningKeyFile={await TestLogKeys.FileAsync(await SharedIdentity.GetAsync(), "PAN", folder)}";
            var pan = await PanamaAsync($"--Node:Port={port}", key);
            await using var secretariat = await SecretariatAsync(folder, $"http://127.0.0.1:{port}");
            server = new NpgsqlConnectionStringBuilder(pan.Store!.ConnectionString);
            var dump = Path.Combine(folder, "pan.dump");
            await PgAsync("pg_dump", server, "--format=custom", $"--file={dump}", server.Database!);
            await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300))); // change 5
            await SecretariatHoldsAsync(secretariat, 5);
            restored = await DatabaseAsync(pan.Store);
            await pan.DisposeAsync();

            var database = new NpgsqlConnectionStringBuilder(restored).Database!;
            await PgAsync("pg_restore", server, "--no-owner", "--no-comments", $"--dbname={database}", dump); // the tables are the administrator's
            var password = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
            await using (var administrator = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(restored) { Pooling = false }.ToString()))
            {
                await administrator.OpenAsync();
                await using var grant = new NpgsqlCommand($"CREATE ROLE {role} LOGIN PASSWORD '{password}'; GRANT USAGE, CREATE ON SCHEMA public TO {role}; " +
                    $"GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO {role}; GRANT ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA public TO {role};", administrator);
                await grant.ExecuteNonQueryAsync();
            }
            var asRole = new NpgsqlConnectionStringBuilder(restored) { Username = role, Password = password }.ToString();

            await using var recovered = await TestNode.StartAsync("PAN", null,
                [ShareWithAll, $"--Node:Port={port}", key, "--Store:Provider=postgres", $"--ConnectionStrings:Store={asRole}", .. await PeersArgsAsync(folder, (secretariat.Address, "secretariat"))]);
            await RecoveredAsync(recovered);
            Assert.Null(recovered.Services.GetRequiredService<RecoveryState>().Refusal);
            await ContinuesAsync(recovered, secretariat, 6, "2025", 310, store: restored);
        }
        finally
        {
            await DropAsync(restored);
            if (server is not null)
            {
                await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(server.ToString()) { Database = "postgres", Pooling = false }.ToString());
                await connection.OpenAsync();
                await using var drop = new NpgsqlCommand($"DROP ROLE IF EXISTS {role}", connection);
                await drop.ExecuteNonQueryAsync();
            }
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// Issue 16 item 4 on PostgreSQL: <c>mirps backup</c> of a running node's PostgreSQL store (pg_dump) at change 4; change 5
    /// reaches the Secretariat; the store is lost (a new, empty database). <c>mirps restore</c> into it; the node started on it
    /// recovers change 5 from the Secretariat and continues with change 6.
    /// </summary>
    [Fact]
    public async Task Mirps_backup_and_restore_of_a_PostgreSQL_store_then_recovery_from_the_Secretariat_give_the_log_the_node_had()
    {
        var folder = TempFolder.Create();
        string? restored = null;
        try
        {
            var port = FreePort();
            var pan = await PanamaAsync($"--Node:Port={port}");
            await using var secretariat = await SecretariatAsync(folder, $"http://127.0.0.1:{port}");
            var backup = Path.Combine(folder, "pan.backup");
            var (code, output, error) = await CliRunner.RunAsync(["backup", .. StoreFile(folder, pan.Store!.ConnectionString), "--out", backup, "--log-key", await PanKeyAsync(folder)]); // while the node runs
            Assert.True(code == 0, error);
            Assert.Contains("PAN's node's store: its log up to change 4", output, StringComparison.Ordinal);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(backup));
            }

            await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300))); // change 5, after the backup
            await SecretariatHoldsAsync(secretariat, 5);
            restored = await DatabaseAsync(pan.Store);
            await pan.DisposeAsync(); // the store is lost

            (code, output, error) = await CliRunner.RunAsync(["restore", "--from", backup, .. StoreFile(folder, restored), "--country", "PAN", .. await PanPublishedKeyArgsAsync(folder)]);
            Assert.True(code == 0, error);
            Assert.Contains("its log up to change 4", output, StringComparison.Ordinal);
            Assert.Contains("schema mirps_replaced_", output, StringComparison.Ordinal);

            await using var recovered = await TestNode.StartAsync("PAN", null,
                [ShareWithAll, $"--Node:Port={port}", "--Store:Provider=postgres", $"--ConnectionStrings:Store={restored}", .. await PeersArgsAsync(folder, (secretariat.Address, "secretariat"))]);
            await RecoveredAsync(recovered);
            Assert.Null(recovered.Services.GetRequiredService<RecoveryState>().Refusal);
            await ContinuesAsync(recovered, secretariat, 6, "2025", 310, store: restored);
        }
        finally
        {
            await DropAsync(restored);
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// The restore's bad input on PostgreSQL, each refused with a clear error and the target database left as it was: a
    /// corrupt backup, a truncated one, not a backup at all, another State's backup, a SQLite store's backup, this backup
    /// into a SQLite store, a dump whose content is not what its manifest says, and a database a node is running on.
    /// </summary>
    [Fact]
    public async Task A_corrupt_backup_another_States_another_providers_and_a_running_nodes_database_are_refused_with_nothing_overwritten()
    {
        var folder = TempFolder.Create();
        string? target = null, empty = null;
        try
        {
            await using var pan = await PanamaAsync();
            var backup = Path.Combine(folder, "pan.backup");
            var (code, _, error) = await CliRunner.RunAsync(["backup", .. StoreFile(folder, pan.Store!.ConnectionString), "--out", backup, "--log-key", await PanKeyAsync(folder)]);
            Assert.True(code == 0, error);

            // The target: another database holding PAN's store (restored once), which must not change.
            target = await DatabaseAsync(pan.Store);
            (code, _, error) = await CliRunner.RunAsync(["restore", "--from", backup, .. StoreFile(folder, target), "--country", "PAN", .. await PanPublishedKeyArgsAsync(folder)]);
            Assert.True(code == 0, error);
            Assert.Contains("mirps_replaced_", await FingerprintAsync(target), StringComparison.Ordinal);

            async Task RefusedAsync(string file, string store, string country, string expected)
            {
                var before = await FingerprintAsync(store);
                var (code, _, error) = await CliRunner.RunAsync(["restore", "--from", file, .. StoreFile(folder, store), "--country", country, .. await PanPublishedKeyArgsAsync(folder)]);
                Assert.Equal(1, code);
                Assert.Contains(expected, error, StringComparison.Ordinal);
                Assert.Contains("nothing was restored", error, StringComparison.Ordinal);
                Assert.Equal(before, await FingerprintAsync(store));
            }

            var content = await File.ReadAllBytesAsync(backup);
            var corrupt = Path.Combine(folder, "corrupt.backup");
            var damaged = content.ToArray();
            damaged[damaged.Length / 2] ^= 0x5A;
            await File.WriteAllBytesAsync(corrupt, damaged);
            await RefusedAsync(corrupt, target, "PAN", "corrupt");
            var truncated = Path.Combine(folder, "truncated.backup");
            await File.WriteAllBytesAsync(truncated, content[..(content.Length / 3)]);
            await RefusedAsync(truncated, target, "PAN", "corrupt");
            var text = Path.Combine(folder, "notes.backup");
            await File.WriteAllTextAsync(text, "not a backup");
            await RefusedAsync(text, target, "PAN", "corrupt or not a node's backup");

            // The manifest signed again with CRI's key (hostile review A3), and a restore with no key to verify with.
            var forged = Path.Combine(folder, "forged.backup");
            await RewriteAsync(backup, forged, manifest => manifest with { Created = manifest.Created.AddDays(-1) }, signWith: await StateKeyAsync(Path.Combine(folder, "cri"), "CRI"));
            await RefusedAsync(forged, target, "PAN", "signed with another key than PAN's node's");
            var before = await FingerprintAsync(target);
            (code, _, error) = await CliRunner.RunAsync(["restore", "--from", backup, .. StoreFile(folder, target), "--country", "PAN"]);
            Assert.Equal(1, code);
            Assert.Contains("name it with --log-key", error, StringComparison.Ordinal);
            Assert.Equal(before, await FingerprintAsync(target));

            // Another State's backup.
            await RefusedAsync(backup, target, "CRI", "a backup of PAN's node, not CRI's");

            // A SQLite store's backup into this PostgreSQL store, and this backup into a SQLite store.
            var sqlite = Path.Combine(folder, "sqlite.backup");
            await RewriteAsync(backup, sqlite, manifest => manifest with { Provider = null }, signWith: await PanKeyAsync(folder)); // by whoever holds PAN's key: the checks below hold even then
            await RefusedAsync(sqlite, target, "PAN", "a backup of a SQLite store, and the store to restore is a PostgreSQL one");
            var file = Path.Combine(folder, "node-pan.db");
            (code, _, error) = await CliRunner.RunAsync(["restore", "--from", backup, .. StoreFile(folder, file), "--country", "PAN", .. await PanPublishedKeyArgsAsync(folder)]);
            Assert.Equal(1, code);
            Assert.Contains("a backup of a PostgreSQL store, and the store to restore is a SQLite one", error, StringComparison.Ordinal);
            Assert.False(File.Exists(file));

            // A manifest that does not say what the dump holds (its SHA-256 made to match): the restore's transaction is rolled back.
            var lying = Path.Combine(folder, "lying.backup");
            await RewriteAsync(backup, lying, manifest => manifest with { HeadSequence = 3 }, signWith: await PanKeyAsync(folder));
            await RefusedAsync(lying, target, "PAN", "its manifest says change 3");
            var otherState = Path.Combine(folder, "cri.backup");
            await RewriteAsync(backup, otherState, manifest => manifest with { Country = "CRI" }, signWith: await PanKeyAsync(folder));
            await RefusedAsync(otherState, target, "CRI", "is PAN's node's, not CRI's"); // the target says whose it is
            empty = await DatabaseAsync(pan.Store); // a new database says nothing: the dump's own stamp is checked in the transaction
            await RefusedAsync(otherState, empty, "CRI", "the dump is the store of mirps:party=PAN, not of CRI");

            // A backup of a store restored before holds the store alone (not the schema that restore kept), and restores again.
            var again = Path.Combine(folder, "again.backup");
            (code, _, error) = await CliRunner.RunAsync(["backup", .. StoreFile(folder, target), "--out", again, "--log-key", await PanKeyAsync(folder)]);
            Assert.True(code == 0, error);
            (code, _, error) = await CliRunner.RunAsync(["restore", "--from", again, .. StoreFile(folder, target), "--country", "PAN", .. await PanPublishedKeyArgsAsync(folder)]);
            Assert.True(code == 0, error);
            Assert.Equal(2, (await FingerprintAsync(target)).Split('|')[0].Split(',').Count(schema => schema.StartsWith("mirps_replaced_", StringComparison.Ordinal)));

            // A node refuses to start on another State's store (restored by hand, without mirps restore): the store says whose it is.
            await Assert.ThrowsAnyAsync<InvalidOperationException>(() => TestNode.StartAsync("CRI", null, [ShareWithAll, "--Store:Provider=postgres", $"--ConnectionStrings:Store={target}"]));

            // The database of a running node (whatever its connection pools hold: the pools were just cleared above): nor does a
            // second node start on it.
            await Assert.ThrowsAnyAsync<InvalidOperationException>(() => TestNode.StartAsync("PAN", null, [ShareWithAll, "--Store:Provider=postgres", $"--ConnectionStrings:Store={pan.Store.ConnectionString}"]));
            (code, _, error) = await CliRunner.RunAsync(["restore", "--from", backup, .. StoreFile(folder, pan.Store.ConnectionString), "--country", "PAN", .. await PanPublishedKeyArgsAsync(folder)]);
            Assert.Equal(1, code);
            Assert.Contains("a node is running on the database", error, StringComparison.Ordinal);
            Assert.Equal(5, (await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300)))).LastOriginSequence); // still writing on its own store
        }
        finally
        {
            await DropAsync(target);
            await DropAsync(empty);
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// Hostile review A: a dump that holds a function and a trigger the node's migrations do not create (the trigger sets
    /// every row's readers to everyone, so the node would serve its withheld figures; psql would run both as the node's
    /// role) is refused from its list of entries before anything runs; the database is unchanged. A clean dump restores.
    /// </summary>
    [Fact]
    public async Task A_dump_that_holds_a_function_and_a_trigger_the_migrations_do_not_make_is_refused_with_nothing_overwritten()
    {
        var folder = TempFolder.Create();
        string? target = null;
        try
        {
            await using var pan = await PanamaAsync();
            var backup = Path.Combine(folder, "pan.backup");
            var (code, _, error) = await CliRunner.RunAsync(["backup", .. StoreFile(folder, pan.Store!.ConnectionString), "--out", backup, "--log-key", await PanKeyAsync(folder)]);
            Assert.True(code == 0, error);
            target = await DatabaseAsync(pan.Store);
            (code, _, error) = await CliRunner.RunAsync(["restore", "--from", backup, .. StoreFile(folder, target), "--country", "PAN", .. await PanPublishedKeyArgsAsync(folder)]);
            Assert.True(code == 0, error); // the dump of a store the migrations made passes

            // Another store of PAN's, altered, then backed up as mirps backup does.
            var altered = await DatabaseAsync(pan.Store);
            try
            {
                (code, _, error) = await CliRunner.RunAsync(["restore", "--from", backup, .. StoreFile(folder, altered), "--country", "PAN", .. await PanPublishedKeyArgsAsync(folder)]);
                Assert.True(code == 0, error);
                await using (var connection = new NpgsqlConnection(altered))
                {
                    await connection.OpenAsync();
                    await using var command = new NpgsqlCommand("""
                        CREATE FUNCTION public.everyone() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.readers := '*'; RETURN NEW; END $$;
                        CREATE TRIGGER everyone BEFORE INSERT OR UPDATE ON public.observations FOR EACH ROW EXECUTE FUNCTION public.everyone();
                        """, connection);
                    await command.ExecuteNonQueryAsync();
                }
                var hostile = Path.Combine(folder, "hostile.backup");
                (code, _, error) = await CliRunner.RunAsync(["backup", .. StoreFile(folder, altered), "--out", hostile, "--log-key", await PanKeyAsync(folder)]);
                Assert.True(code == 0, error);

                var before = await FingerprintAsync(target);
                (code, _, error) = await CliRunner.RunAsync(["restore", "--from", hostile, .. StoreFile(folder, target), "--country", "PAN", .. await PanPublishedKeyArgsAsync(folder)]);
                Assert.Equal(1, code);
                Assert.Contains("the node's migrations do not create", error, StringComparison.Ordinal);
                Assert.Contains("FUNCTION public everyone()", error, StringComparison.Ordinal);
                Assert.Contains("TRIGGER public observations everyone", error, StringComparison.Ordinal);
                Assert.Contains("nothing was restored", error, StringComparison.Ordinal);
                Assert.Equal(before, await FingerprintAsync(target));
            }
            finally
            {
                await DropAsync(altered);
            }
        }
        finally
        {
            await DropAsync(target);
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// Hostile review A, a crafted archive: an entry of a kind the list allows (TABLE) whose text creates a function, a
    /// psql meta-command, or a COPY to a program. The restore reads the script psql would run and refuses them; a clean
    /// dump's script passes.
    /// </summary>
    [Fact]
    public async Task A_restore_script_that_hides_a_function_a_meta_command_or_a_program_is_refused()
    {
        var folder = TempFolder.Create();
        try
        {
            await using var pan = await PanamaAsync();
            var backup = Path.Combine(folder, "pan.backup");
            var (code, _, error) = await CliRunner.RunAsync(["backup", .. StoreFile(folder, pan.Store!.ConnectionString), "--out", backup, "--log-key", await PanKeyAsync(folder)]);
            Assert.True(code == 0, error);
            System.IO.Compression.ZipFile.ExtractToDirectory(backup, Path.Combine(folder, "x"));
            var script = Path.Combine(folder, "restore.sql");
            await PgAsync("pg_restore", new NpgsqlConnectionStringBuilder(pan.Store.ConnectionString), "--no-owner", "--no-privileges", $"--file={script}", Path.Combine(folder, "x", "store.dump"));
            var lines = await File.ReadAllLinesAsync(script);
            PostgresBackup.RefuseForeignStatements(lines, backup); // the real script passes
            var table = Array.FindIndex(lines, line => line.StartsWith("CREATE TABLE public.observations", StringComparison.Ordinal));
            Assert.True(table > 0);
            foreach (var hidden in new[]
            {
                "CREATE\n  FUNCTION public.f() RETURNS int LANGUAGE sql AS 'select 1';",
                "COMMENT ON TABLE public.observations IS '--'; CREATE/**/TRIGGER t BEFORE INSERT ON public.observations FOR EACH ROW EXECUTE FUNCTION public.f();",
                "\\! touch /tmp/mirps-owned",
                "COPY public.observations (id) TO PROGRAM 'sh -c id';",
            })
            {
                string[] altered = [.. lines[..table], .. hidden.Split('\n'), .. lines[table..]];
                var refused = Assert.Throws<BackupRefusedException>(() => PostgresBackup.RefuseForeignStatements(altered, backup));
                Assert.Contains("nothing was restored", refused.Message, StringComparison.Ordinal);
            }
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// Hostile review G: the advisory lock a running node holds lives on one session. An administrator ends that session
    /// (pg_terminate_backend; idle_session_timeout or a network cut do the same): the node finds it at its next check and takes
    /// the lock again, so a restore is still refused and no second node starts on the database. Ended again while another
    /// session takes the lock first (a restore starting): the node refuses writes (FAILED_PRECONDITION, STORE_LOCK_LOST) and
    /// its "store-lock" health fails, until it holds the lock again; GetSyncStatus.write_refusal and <c>mirps sync status</c>
    /// say so, and why, as they do for the other refusals.
    /// </summary>
    [Fact]
    public async Task A_node_whose_store_lock_session_is_ended_takes_the_lock_again_or_refuses_writes_while_another_holds_it_and_its_sync_status_says_why()
    {
        var folder = TempFolder.Create();
        try
        {
            await using var pan = await PanamaAsync("--Store:LockCheckInterval=00:00:01");
            var database = pan.Store!.ConnectionString;
            var backup = Path.Combine(folder, "pan.backup");
            var (code, _, error) = await CliRunner.RunAsync(["backup", .. StoreFile(folder, database), "--out", backup, "--log-key", await PanKeyAsync(folder)]);
            Assert.True(code == 0, error);

            var first = await LockSessionAsync(database);
            await TerminateAsync(database, first);
            var second = await EventuallyAsync(() => LockSessionAsync(database), pid => pid != 0 && pid != first, "the node takes its store's lock again on a new session");
            (code, _, error) = await CliRunner.RunAsync(["restore", "--from", backup, .. StoreFile(folder, database), "--country", "PAN", .. await PanPublishedKeyArgsAsync(folder)]);
            Assert.Equal(1, code);
            Assert.Contains("a node is running on the database", error, StringComparison.Ordinal);
            await Assert.ThrowsAnyAsync<InvalidOperationException>(() => TestNode.StartAsync("PAN", null, [ShareWithAll, "--Store:Provider=postgres", $"--ConnectionStrings:Store={database}"]));

            pan.Errors.Expect("StoreLockLost");
            pan.Errors.Expect("HealthCheckEnd"); // the health service logs the unhealthy store-lock check at Error level
            var other = await TakeLockFromNodeAsync(database, second);
            using (other)
            {
                var held = pan.Services.GetRequiredService<StoreLock>();
                await EventuallyAsync(() => Task.FromResult(held.Lost), lost => lost is not null, "the node finds another session holds its store's lock");
                await RpcAssert.ReasonAsync(() => pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300))).ResponseAsync,
                    StatusCode.FailedPrecondition, StoreLock.LostReason);
                var health = await pan.Services.GetRequiredService<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckService>().CheckHealthAsync();
                Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Unhealthy, health.Entries["store-lock"].Status);
                var refusal = (await new Mirps.Sync.V1.SyncService.SyncServiceClient(pan.Channel).GetSyncStatusAsync(new Mirps.Sync.V1.GetSyncStatusRequest())).WriteRefusal;
                Assert.StartsWith($"{StoreLock.LostReason}: the node lost its store's advisory lock", refusal, StringComparison.Ordinal);
                Assert.Contains("another session holds it now", refusal, StringComparison.Ordinal);
                var (cliCode, cliOutput, cliError) = await CliRunner.RunAsync(["sync", "status", .. pan.CliArgs]);
                Assert.True(cliCode == 0, cliError);
                Assert.Contains($"It refuses PAN's writes: {refusal}", cliOutput, StringComparison.Ordinal);
            }
            await EventuallyAsync(() => LockSessionAsync(database), pid => pid != 0, "the node takes its store's lock again once it is free");
            await EventuallyAsync(() => Task.FromResult(pan.Services.GetRequiredService<StoreLock>().Lost), lost => lost is null, "the node holds its store's lock");
            Assert.Equal("", (await new Mirps.Sync.V1.SyncService.SyncServiceClient(pan.Channel).GetSyncStatusAsync(new Mirps.Sync.V1.GetSyncStatusRequest())).WriteRefusal);
            Assert.Equal(5, (await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300)))).LastOriginSequence);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// Finding 4 of the decision-log review: PAN's running node signed its log to change 5 (the Secretariat holds it) when its
    /// lock's session was ended; while another session held the lock, the store was put back with pg_restore to a dump taken
    /// at change 4 (no restore mark: only the node's high-water mark tells). When the node takes its lock back it must find
    /// the store restored, as at start-up: it recovers change 5 from the Secretariat before it writes, and its next submit is
    /// change 6, which the Secretariat verifies on PAN's chain. Taking the lock back without that check, it signed a second,
    /// different change 5: a fork of PAN's log.
    /// </summary>
    [Fact]
    public async Task A_node_that_takes_its_store_lock_back_over_a_store_restored_meanwhile_recovers_before_it_writes_again()
    {
        var folder = TempFolder.Create();
        try
        {
            var port = FreePort();
            await using var secretariat = await SecretariatAsync(folder, $"http://127.0.0.1:{port}");
            secretariat.Errors.Expect("PeerPullFailed"); // PAN's node is not up yet
            await using var pan = await PanamaAsync([$"--Node:Port={port}", "--Store:LockCheckInterval=00:00:03", .. await PeersArgsAsync(folder, (secretariat.Address, "secretariat"))]);
            var database = pan.Store!.ConnectionString;
            var server = new NpgsqlConnectionStringBuilder(database);
            var dump = Path.Combine(folder, "pan.dump");
            await PgAsync("pg_dump", server, "--format=custom", $"--file={dump}", server.Database!); // change 4
            await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300))); // change 5
            await SecretariatHoldsAsync(secretariat, 5);

            pan.Errors.Expect("StoreLockLost");
            pan.Errors.Expect("HealthCheckEnd"); // the health service logs the unhealthy store-lock check at Error level, when it runs meanwhile
            var other = await TakeLockFromNodeAsync(database);
            using (other)
            {
                await EventuallyAsync(() => Task.FromResult(pan.Services.GetRequiredService<StoreLock>().Lost), lost => lost is not null, "the node finds another session holds its store's lock");
                await PgAsync("pg_restore", server, "--no-owner", "--clean", "--if-exists", "--single-transaction", $"--dbname={server.Database}", dump);
                Assert.Equal(4, PanLog(pan, database).Count);
            }
            await EventuallyAsync(() => Task.FromResult(pan.Services.GetRequiredService<StoreLock>().Lost), lost => lost is null, "the node holds its store's lock again");
            await EventuallyAsync(() => Task.FromResult(pan.Services.GetRequiredService<RecoveryState>().Refusal is null ? PanLog(pan, database).Count : 0),
                count => count == 5, "the node recovered change 5 from the Secretariat and writes again");
            await ContinuesAsync(pan, secretariat, 6, "2025", 310, store: database);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// The moments before a node notices that its store lock's session ended (up to Store:LockCheckInterval, here ten
    /// minutes): PAN's lock session is ended by an administrator, and a second node process starts on the same database,
    /// taking the lock that is free now. The first node still believes it holds the lock, but its next submit must write
    /// nothing (FAILED_PRECONDITION, STORE_LOCK_LOST, and sync status says why), while the second, which holds the lock,
    /// writes change 5. Before the fix the first node's submit was written beside the second's: two processes writing PAN's
    /// log at once.
    /// </summary>
    [Fact]
    public async Task A_node_whose_lock_session_ended_writes_nothing_before_it_notices_while_a_second_node_holds_the_store()
    {
        var folder = TempFolder.Create();
        try
        {
            var key = $"--Node:LogSigningKeyFile={await TestLogKeys.FileAsync(await SharedIdentity.GetAsync(), "PAN", folder)}";
            await using var pan = await PanamaAsync("--Store:LockCheckInterval=00:10:00", key);
            pan.Errors.Expect("HealthCheckEnd"); // its store-lock health check is unhealthy once a write found the session ended (logged at Error level when it runs)
            var database = pan.Store!.ConnectionString;
            await TerminateAsync(database, await LockSessionAsync(database));
            await using var second = await TestNode.StartAsync("PAN", null, [ShareWithAll, key, "--Store:Provider=postgres", $"--ConnectionStrings:Store={database}"]);
            Assert.Null(pan.Services.GetRequiredService<StoreLock>().Lost); // the first node has not looked yet

            await RpcAssert.ReasonAsync(() => pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300))).ResponseAsync,
                StatusCode.FailedPrecondition, StoreLock.LostReason);
            Assert.Equal(4, PanLog(pan, database).Count); // nothing of it written
            Assert.Equal(5, (await second.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 310)))).LastOriginSequence);
            await RpcAssert.ReasonAsync(() => pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2025", value: 320))).ResponseAsync,
                StatusCode.FailedPrecondition, StoreLock.LostReason);
            var refusal = (await new Mirps.Sync.V1.SyncService.SyncServiceClient(pan.Channel).GetSyncStatusAsync(new Mirps.Sync.V1.GetSyncStatusRequest())).WriteRefusal;
            Assert.StartsWith($"{StoreLock.LostReason}: ", refusal, StringComparison.Ordinal);
            Assert.Equal(5, PanLog(pan, database).Count);
            Assert.Equal("310", PanLog(pan, database)[^1].Split('|')[8]); // change 5 is the second node's
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// Second hostile review, finding 5: PAN's node starts on its store at change 5 (its high-water mark: change 5, which no peer
    /// holds), and its start-up check waits for its peer (the Secretariat, out of reach). During that check the lock's session is
    /// ended and, while another session holds the lock, the store is put back to change 4. The node takes its lock back while the
    /// check still runs: the re-check returned at once (a check was under way), the lock's refusal was lifted, and the check, which
    /// had read the store before, let writes resume: the next submit signed a second change 5 (a fork). Now the lock taken back
    /// waits for the check, then looks at the store: found restored below the mark, writes stay refused until a quorum proves
    /// PAN's head, and nothing is signed at change 5 again.
    /// </summary>
    [Fact]
    public async Task A_store_lock_taken_back_during_the_start_up_check_over_a_store_restored_meanwhile_keeps_writes_refused()
    {
        var folder = TempFolder.Create();
        string? store = null;
        try
        {
            string atFour = Path.Combine(folder, "pan-4.dump"), atFive = Path.Combine(folder, "pan-5.dump");
            await using (var first = await PanamaAsync())
            {
                first.CopyStoreTo(atFour);
                await first.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300))); // change 5
                first.CopyStoreTo(atFive);
                store = await DatabaseAsync(first.Store!);
            }
            var server = new NpgsqlConnectionStringBuilder(store);
            await PgAsync("pg_restore", server, "--no-owner", "--no-privileges", "--exit-on-error", $"--dbname={server.Database}", atFive);
            await using var silent = new TcpGate(); // the Secretariat, out of reach: never opened
            var starting = TestNode.StartAsync("PAN", null, [ShareWithAll, "--Store:Provider=postgres", $"--ConnectionStrings:Store={store}",
                "--Store:LockCheckInterval=00:00:00.300", "--Node:RecoveryCheckTimeout=00:00:10", "--Node:RecoveryRetryInterval=00:00:01",
                .. await PeersArgsAsync(folder, (silent.Address, "secretariat")), "--Node:Peers:0:Origins:0=PAN"]); // its own log: pulled only after the check

            // The start-up check has read the store and asks the peer (the first to connect: PAN's own pull waits for the check).
            await EventuallyAsync(() => Task.FromResult(silent.Connections), connections => connections > 0 || starting.IsCompleted, "the start-up check asks its peer");
            Assert.False(starting.IsCompleted);
            var other = await TakeLockFromNodeAsync(store);
            using (other)
            {
                await PgAsync("pg_restore", server, "--no-owner", "--clean", "--if-exists", "--single-transaction", $"--dbname={server.Database}", atFour);
            }
            await EventuallyAsync(() => LockSessionAsync(store), pid => pid != 0, "the node takes its store's lock back");
            Assert.False(starting.IsCompleted); // still in its start-up check
            await using var pan = await starting;
            pan.Errors.Expect("StoreLockLost");
            pan.Errors.Expect("HealthCheckEnd");
            pan.Errors.Expect("OriginRecoveryQuorumMissing");

            var recovery = pan.Services.GetRequiredService<RecoveryState>();
            await EventuallyAsync(() => Task.FromResult(recovery.Reason), reason => reason == OriginRecovery.QuorumMissing, "the node finds its store restored and waits for a quorum");
            await RpcAssert.ReasonAsync(() => pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2025", value: 310))).ResponseAsync,
                StatusCode.FailedPrecondition, OriginRecovery.QuorumMissing);
            Assert.Contains("signed them up to change 5", recovery.Refusal, StringComparison.Ordinal);
            Assert.Equal(4, TestStores.Rows(store, "SELECT origin_sequence FROM observations WHERE origin = 'PAN'").Count); // change 5 not signed again
        }
        finally
        {
            await DropAsync(store);
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// Third hostile review, finding A: a lifecycle write (an approval) passed its checks and waits at the write gate. Meanwhile
    /// the lock's session ends, another session restores the store to a dump without PAN's lifecycle entry 1, and the node takes
    /// its lock back on a new session, with a new, valid fencing key. The waiting write then opens its transaction: the fence
    /// checked only the key, so the write signed a second lifecycle entry 1 (a fork of PAN's log). Now it is refused
    /// (FAILED_PRECONDITION, STORE_LOCK_LOST) and nothing is written.
    /// </summary>
    [Fact]
    public async Task A_write_waiting_at_the_gate_while_the_lock_is_lost_and_taken_back_over_a_restored_store_signs_nothing()
    {
        var folder = TempFolder.Create();
        try
        {
            await using var pan = await PanamaAsync("--Store:LockCheckInterval=00:00:00.300");
            pan.Errors.Expect("StoreLockLost");
            pan.Errors.Expect("HealthCheckEnd");
            pan.Errors.Expect("OriginRecovery");
            var database = pan.Store!.ConnectionString;
            var server = new NpgsqlConnectionStringBuilder(database);
            var dump = Path.Combine(folder, "pan.dump");
            await PgAsync("pg_dump", server, "--format=custom", $"--file={dump}", server.Database!); // no lifecycle entry
            Task<List<Mirps.Observation.V1.LifecycleEntry>> ApproveAsync(string period)
            {
                var scope = pan.Services.CreateAsyncScope();
                return scope.ServiceProvider.GetRequiredService<MirpsExchange.Node.Approval.LifecycleLog>().RecordAsync("PAN", [("REFUGEES", period)],
                    Mirps.Observation.V1.LifecycleAction.Approve, "", "test", null, CancellationToken.None).ContinueWith(async t => { await scope.DisposeAsync(); return await t; }).Unwrap();
            }
            List<string> Entries() => TestStores.Rows(database, "SELECT entry_sequence FROM lifecycle_entries WHERE origin = 'PAN'");
            Assert.Equal(1, (await ApproveAsync("2023")).Single().EntrySequence);
            Assert.Single(Entries());

            var gate = pan.Services.GetRequiredService<WriteGate>();
            Task<List<Mirps.Observation.V1.LifecycleEntry>> waiting;
            using (await gate.EnterAsync(CancellationToken.None))
            {
                waiting = Task.Run(() => ApproveAsync("2024")); // its checks pass, then it waits at the gate
                await Task.Delay(500);
                Assert.False(waiting.IsCompleted);
                var other = await TakeLockFromNodeAsync(database);
                using (other)
                {
                    await EventuallyAsync(() => Task.FromResult(pan.Services.GetRequiredService<StoreLock>().Lost), lost => lost is not null, "the node finds another session holds its store's lock");
                    await PgAsync("pg_restore", server, "--no-owner", "--clean", "--if-exists", "--single-transaction", $"--dbname={server.Database}", dump);
                    Assert.Empty(Entries());
                }
                await EventuallyAsync(() => Task.FromResult(pan.Services.GetRequiredService<StoreLock>().Lost), lost => lost is null, "the node holds its store's lock again and checked the store");
            }
            await RpcAssert.ReasonAsync(() => waiting, StatusCode.FailedPrecondition, StoreLock.LostReason);
            Assert.Empty(Entries()); // entry 1, which the federation may hold, is not signed again
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// Third hostile review, finding B: PAN's node takes its lock back while its start-up check waits for a quorum (its peer,
    /// out of reach), so the store's check after the retake waits too. The watch awaited that check: it sent no keepalive and
    /// could not take the lock back again, so a second end of the lock's session (idle_session_timeout, an administrator) left
    /// the node without its lock until a restart. Now the check runs beside the watch, which takes the lock back again.
    /// </summary>
    [Fact]
    public async Task A_lock_session_ended_again_while_the_check_after_a_retake_waits_for_a_quorum_is_taken_back_again()
    {
        var folder = TempFolder.Create();
        string? store = null;
        try
        {
            var atFive = Path.Combine(folder, "pan-5.dump");
            await using (var first = await PanamaAsync())
            {
                await first.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300))); // change 5
                first.CopyStoreTo(atFive);
                store = await DatabaseAsync(first.Store!);
            }
            var server = new NpgsqlConnectionStringBuilder(store);
            await PgAsync("pg_restore", server, "--no-owner", "--no-privileges", "--exit-on-error", $"--dbname={server.Database}", atFive);
            await using var silent = new TcpGate(); // the Secretariat, out of reach: the quorum never comes
            var starting = TestNode.StartAsync("PAN", null, [ShareWithAll, "--Store:Provider=postgres", $"--ConnectionStrings:Store={store}",
                "--Store:LockCheckInterval=00:00:00.300", "--Node:RecoveryCheckTimeout=00:00:10", "--Node:RecoveryRetryInterval=00:00:01",
                .. await PeersArgsAsync(folder, (silent.Address, "secretariat")), "--Node:Peers:0:Origins:0=PAN"]);
            await EventuallyAsync(() => Task.FromResult(silent.Connections), connections => connections > 0 || starting.IsCompleted, "the start-up check asks its peer");
            Assert.False(starting.IsCompleted);
            var taken = await LockSessionAsync(store);
            await TerminateAsync(store, taken);
            var second = await EventuallyAsync(() => LockSessionAsync(store), pid => pid != 0 && pid != taken, "the node takes its store's lock back");
            await Task.Delay(1000); // its store's check has begun, and waits for the start-up check
            await TerminateAsync(store, second);
            await EventuallyAsync(() => LockSessionAsync(store), pid => pid != 0 && pid != second, "the node takes its store's lock back again while its check waits");
            await using var pan = await starting;
            pan.Errors.Expect("StoreLockLost");
            pan.Errors.Expect("HealthCheckEnd");
            pan.Errors.Expect("OriginRecovery");
            // Writes still refused: the store's check waits for a quorum, or (the start-up check over, past RecoveryCheckTimeout on a
            // loaded machine) the quorum it found missing refuses them. Asserting the lock's refusal alone failed at a load of 90.
            Assert.NotNull(pan.Services.GetRequiredService<RecoveryState>().WriteRefusal);
            Assert.Equal(5, TestStores.Rows(store, "SELECT origin_sequence FROM observations WHERE origin = 'PAN'").Count);
        }
        finally
        {
            await DropAsync(store);
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// Finding B's path to its end, the quorum arriving after the stall: PAN's store put back to change 4 with pg_restore (its
    /// high-water mark at change 5, which the Secretariat holds); the node starts with the Secretariat out of reach, so its
    /// start-up check waits for a quorum. Meanwhile its lock's session is ended twice and taken back twice, each retake's check of
    /// the store waiting for the start-up check. Writes stay refused. Then the Secretariat answers: the node recovers change 5 as
    /// PAN signed it, the check of the last retake passes, writes resume, and the next submit is change 6, which the Secretariat
    /// verifies on PAN's chain (no gap, no second change 5).
    /// </summary>
    [Fact]
    public async Task A_lock_taken_back_twice_while_the_start_up_check_waits_for_its_quorum_lets_writes_resume_once_the_quorum_answers()
    {
        var folder = TempFolder.Create();
        string? restored = null;
        try
        {
            var port = FreePort();
            var key = $"--Node:LogSigningKeyFile={await TestLogKeys.FileAsync(await SharedIdentity.GetAsync(), "PAN", folder)}";
            var (secretariat, changes, _) = await DumpedBehindTheSecretariatAsync(folder, port, key, 1);
            await using var held = secretariat;
            restored = changes.Restored;
            await using var gate = new TcpGate(secretariat.Address); // the Secretariat: every connection held until opened
            var starting = TestNode.StartAsync("PAN", null, [ShareWithAll, $"--Node:Port={port}", key, "--Store:Provider=postgres", $"--ConnectionStrings:Store={restored}",
                "--Store:LockCheckInterval=00:00:00.300", "--Node:RecoveryCheckTimeout=00:00:10", "--Node:RecoveryRetryInterval=00:00:01",
                .. await PeersArgsAsync(folder, (gate.Address, "secretariat"))]);
            await EventuallyAsync(() => Task.FromResult(gate.Connections), connections => connections > 0 || starting.IsCompleted, "the start-up check asks its peer");
            Assert.False(starting.IsCompleted);
            var taken = await LockSessionAsync(restored);
            await TerminateAsync(restored, taken);
            var second = await EventuallyAsync(() => LockSessionAsync(restored), pid => pid != 0 && pid != taken, "the node takes its store's lock back");
            await Task.Delay(1000); // its store's check has begun, and waits for the start-up check
            await TerminateAsync(restored, second);
            await EventuallyAsync(() => LockSessionAsync(restored), pid => pid != 0 && pid != second, "the node takes its store's lock back again while its check waits");
            await using var pan = await starting;
            pan.Errors.Expect("StoreLockLost");
            pan.Errors.Expect("HealthCheckEnd");
            pan.Errors.Expect("OriginRecovery");
            Assert.NotNull(pan.Services.GetRequiredService<RecoveryState>().WriteRefusal); // the check, or the quorum it waits for, refuses writes
            await Assert.ThrowsAsync<RpcException>(() => pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2025", value: 310))).ResponseAsync);
            Assert.Equal(4, PanLog(pan, restored).Count);

            gate.Open();
            await EventuallyAsync(() => Task.FromResult((pan.Services.GetRequiredService<StoreLock>().Lost, pan.Services.GetRequiredService<RecoveryState>().Refusal)),
                refusals => refusals == (null, null), "the quorum answers, the node recovers, checks its store and writes again");
            Assert.Equal(PanLog(secretariat), PanLog(pan, restored));
            await ContinuesAsync(pan, secretariat, 6, "2025", 310, store: restored);
        }
        finally
        {
            await DropAsync(restored);
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// Third hostile review, finding 7: a node that lost its store's lock to another process must deliver no webhook, whether it
    /// has noticed yet or not (its check every Store:LockCheckInterval, here ten minutes). PAN's first node delivers an approval
    /// while it holds its lock; then its lock session is ended and a second node process starts on the same database. The second
    /// node derives the next approval into the outbox and tries it again and again (a loopback receiver is not allowed to it, so
    /// every request the receiver gets is the first node's). The first node, which still believes it holds the lock, must send
    /// nothing: not before it notices (it sent once, before the fence was checked before sending), nor after (the finding: it
    /// re-sent every round, its attempt records refused by the fence).
    /// </summary>
    [Fact]
    public async Task A_node_that_lost_its_store_lock_to_a_second_node_delivers_no_webhook_whether_it_noticed_or_not()
    {
        var folder = TempFolder.Create();
        try
        {
            await using var receiver = await WebhookReceiver.StartAsync();
            var key = $"--Node:LogSigningKeyFile={await TestLogKeys.FileAsync(await SharedIdentity.GetAsync(), "PAN", folder)}";
            // Its deriver reads the store once at the start and when the test asks: it would otherwise notice the lost lock on the
            // second node's entry first (a write the fence refuses), and the delivery would not be what is tested.
            await using var pan = await PanamaAsync([key, "--Store:LockCheckInterval=00:10:00", .. WebhookTests.WebhookArgs, "--Webhooks:PollInterval=00:10:00"]);
            pan.Errors.Expect("HealthCheckEnd"); // its store-lock health is unhealthy once the fence found the session ended
            pan.Errors.Expect("TransactionError"); // the transaction the fence refused, as EF Core logs it
            await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300)));
            var approver = await SharedIdentity.ApproverAsync("PAN");
            await WebhookTests.Notifications(pan, approver).CreateSubscriptionAsync(WebhookTests.Subscribe(receiver.Url, Mirps.Notification.V1.EventType.Approved));
            await WebhookTests.Approvals(pan, approver).ApproveDataAsync(WebhookTests.Approve("2023"));
            await pan.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<MirpsExchange.Node.Notifications.WebhookDeriver>().Single().DeriveAsync(CancellationToken.None);
            await receiver.WhenAsync(events => events.Any(e => e.Period == "2023"), "the first node delivers while it holds its store's lock");

            var database = pan.Store!.ConnectionString;
            // Recorded, too: an end of the session before the record would refuse it (the fence), for a send made while the lock was held.
            await EventuallyAsync(() => Task.FromResult(TestStores.Rows(database, "SELECT id FROM webhook_deliveries WHERE delivered").Count), delivered => delivered == 1,
                "the first node records the delivery");
            await TerminateAsync(database, await LockSessionAsync(database));
            await using var second = await TestNode.StartAsync("PAN", null, [ShareWithAll, key, "--Store:Provider=postgres", $"--ConnectionStrings:Store={database}",
                .. WebhookTests.WebhookArgs, "--Webhooks:AllowLoopback=false", "--Webhooks:InitialBackoff=00:00:00.300", "--Webhooks:MaxBackoff=00:00:00.300"]);
            var sent = receiver.Requests.Count;
            Assert.Null(pan.Services.GetRequiredService<StoreLock>().Lost); // the first node has not looked yet
            await WebhookTests.Approvals(second, approver).ApproveDataAsync(WebhookTests.Approve("2024"));
            await EventuallyAsync(() => Task.FromResult(TestStores.Rows(database, "SELECT attempts FROM webhook_deliveries WHERE NOT delivered")),
                rows => rows.Count == 1 && int.Parse(rows[0], System.Globalization.CultureInfo.InvariantCulture) >= 3, "the second node tries the new event, due again and again");
            Assert.Equal(sent, receiver.Requests.Count); // before the first node noticed

            await EventuallyAsync(() => Task.FromResult(pan.Services.GetRequiredService<StoreLock>().Lost), lost => lost is not null, "the first node finds its lock's session ended");
            var attempts = int.Parse(TestStores.Rows(database, "SELECT attempts FROM webhook_deliveries WHERE NOT delivered").Single(), System.Globalization.CultureInfo.InvariantCulture);
            await EventuallyAsync(() => Task.FromResult(int.Parse(TestStores.Rows(database, "SELECT attempts FROM webhook_deliveries WHERE NOT delivered").Single(), System.Globalization.CultureInfo.InvariantCulture)),
                now => now >= attempts + 5, "the event falls due five more times");
            Assert.Equal(sent, receiver.Requests.Count); // nor after
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>
    /// `--store-file FILE` for <paramref name="connectionString"/> (the test server's holds its password, which mirps refuses on
    /// the command line): an owner-only file in <paramref name="folder"/>.
    /// </summary>
    private static string[] StoreFile(string folder, string connectionString)
    {
        var file = Path.Combine(folder, $"store-{Guid.NewGuid():N}.conn");
        MirpsExchange.ServiceDefaults.OwnerOnlyFile.WriteAllText(file, connectionString);
        return ["--store-file", file];
    }

    /// <summary>
    /// The process id of the session holding a node's store lock on <paramref name="database"/> (0: none): the lock's own session
    /// (its application name), not a write transaction's, which holds the fence's advisory keys while it runs.
    /// </summary>
    private static async Task<int> LockSessionAsync(string database)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database) { Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted " +
            $"AND a.application_name = '{StoreLock.PostgresApplicationName}' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1", connection);
        return await command.ExecuteScalarAsync() is int pid ? pid : 0;
    }

    /// <summary>
    /// Ends the node's lock session on <paramref name="database"/> (<paramref name="session"/>, or the one holding the lock now) and
    /// takes the store's lock in its place, as another process would (a restore, a second node). The other session queues for the
    /// lock before the node's session is ended, so PostgreSQL grants it the lock as that session ends, before the node's next
    /// check can try for it. A session that tried only after the end raced the node's check (every Store:LockCheckInterval, 300
    /// ms in some tests), and now and then the node took its lock back first and the test failed (the flaky lock test).
    /// </summary>
    private static async Task<StoreLock> TakeLockFromNodeAsync(string database, int session = 0)
    {
        session = session != 0 ? session : await LockSessionAsync(database);
        var taking = StoreLock.AcquirePostgresAsync(database);
        await EventuallyAsync(async () => taking.IsCompleted || await WaitingForLockAsync(database), waiting => waiting, "another session queues for the store's lock");
        await TerminateAsync(database, session);
        return await taking.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Whether a session waits for an advisory lock on <paramref name="database"/>.</summary>
    private static async Task<bool> WaitingForLockAsync(string database)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database) { Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))", connection);
        return (bool)(await command.ExecuteScalarAsync())!;
    }

    private static async Task TerminateAsync(string database, int pid)
    {
        Assert.NotEqual(0, pid);
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database) { Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT pg_terminate_backend({pid})", connection);
        Assert.True((bool)(await command.ExecuteScalarAsync())!);
    }

    /// <summary>Reads <paramref name="read"/> until <paramref name="done"/> says so (or 20 s, then fails naming <paramref name="what"/>).</summary>
    private static async Task<T> EventuallyAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(20); ; await Task.Delay(100))
        {
            var value = await read();
            if (done(value))
            {
                return value;
            }
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what} (last: {value})");
        }
    }

    /// <summary>Runs PostgreSQL's <paramref name="tool"/> against <paramref name="server"/>'s server (the password in the environment), as mirps does.</summary>
    private static Task PgAsync(string tool, NpgsqlConnectionStringBuilder server, params string[] args) =>
        PostgresTools.RunAsync(tool, null, server, args, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60));

    /// <summary>A database of the run's server, dropped by <see cref="DropAsync"/>.</summary>
    private static Task<string> DatabaseAsync(TestStore like) => ThrowawayPostgres.EnsureDatabaseAsync(like.ConnectionString, "restored_" + Guid.NewGuid().ToString("N"));

    private static async Task DropAsync(string? database)
    {
        if (database is null)
        {
            return;
        }
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database) { Database = "postgres" }.ToString());
        await connection.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{new NpgsqlConnectionStringBuilder(database).Database}\" WITH (FORCE)", connection);
        await drop.ExecuteNonQueryAsync();
    }

    /// <summary>What a restore must leave as it was: the database's schemas, its tables' comments and PAN's log in it.</summary>
    private static async Task<string> FingerprintAsync(string database)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(database) { Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT (SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema') || '|' || " +
            "COALESCE((SELECT string_agg(c.relname || '=' || COALESCE(obj_description(c.oid, 'pg_class'), ''), ',' ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'), '') || '|' || " +
            "COALESCE(to_regclass('public.observations')::text, '')", connection);
        var fingerprint = (string)(await command.ExecuteScalarAsync())!;
        if (fingerprint.EndsWith("|observations", StringComparison.Ordinal))
        {
            command.CommandText = "SELECT COALESCE(string_agg(origin_sequence::text || ':' || encode(change_hash, 'hex'), ',' ORDER BY origin_sequence), '') FROM public.observations WHERE origin = 'PAN'";
            fingerprint += "|" + (string)(await command.ExecuteScalarAsync())!;
        }
        return fingerprint;
    }
}
#endif
