#if MIRPS_TEST_POSTGRES
using System.Diagnostics;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using MirpsExchange.Cli.Federation;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Node.Sync;
using Npgsql;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;
using static MirpsExchange.FunctionalTests.Infrastructure.RecoveryFederation;

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
        string? restored = null;
        try
        {
            var port = FreePort();
            var pan = await PanamaAsync($"--Node:Port={port}");
            var store = new NpgsqlConnectionStringBuilder(pan.Store!.ConnectionString);
            var dump = Path.Combine(folder, "pan.dump");
            await PgAsync("pg_dump", store, "--format=custom", $"--file={dump}", store.Database!);
            await pan.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2024", value: 300))); // change 5
            await pan.DisposeAsync();

            var name = "restored_" + Guid.NewGuid().ToString("N");
            restored = await ThrowawayPostgres.EnsureDatabaseAsync(store.ToString(), name);
            await PgAsync("pg_restore", store, "--no-owner", $"--dbname={name}", dump);

            var nobody = $"http://127.0.0.1:{FreePort()}"; // its peer is down
            await using var started = await TestNode.StartAsync("PAN", null,
                [ShareWithAll, $"--Node:Port={port}", "--Node:RecoveryCheckTimeout=00:00:02", "--Store:Provider=postgres", $"--ConnectionStrings:Store={restored}",
                 .. await PeersArgsAsync(folder, (nobody, "secretariat"))]);
            started.Errors.Expect("OriginRecoveryQuorumMissing");
            started.Errors.Expect("PeerPullFailed");
            await RecoveredAsync(started);
            await RpcAssert.ReasonAsync(() => started.Observations.SubmitObservationsAsync(Submit(Refugees("PAN", period: "2025", value: 310))).ResponseAsync,
                StatusCode.FailedPrecondition, OriginRecovery.QuorumMissing);
            Assert.StartsWith(OriginRecovery.QuorumMissing, started.Services.GetRequiredService<RecoveryState>().Refusal!, StringComparison.Ordinal);
        }
        finally
        {
            if (restored is not null)
            {
                NpgsqlConnection.ClearAllPools();
                await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(restored) { Database = "postgres" }.ToString());
                await connection.OpenAsync();
                await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{new NpgsqlConnectionStringBuilder(restored).Database}\" WITH (FORCE)", connection);
                await drop.ExecuteNonQueryAsync();
            }
            TempFolder.Delete(folder);
        }
    }

    /// <summary>Runs PostgreSQL's <paramref name="tool"/> against <paramref name="server"/>'s server (the password in the environment).</summary>
    private static async Task PgAsync(string tool, NpgsqlConnectionStringBuilder server, params string[] args)
    {
        var start = new ProcessStartInfo(Path.Combine(ThrowawayPostgres.FindBin()!, tool)) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in (string[])[$"--host={server.Host}", $"--port={server.Port}", $"--username={server.Username}", .. args])
        {
            start.ArgumentList.Add(arg);
        }
        start.Environment["PGPASSWORD"] = server.Password;
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(process.ExitCode == 0, $"{tool}: {await error}");
    }
}
#endif
