using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Mirps.Auth;
using Mirps.Identity.V1;
using MirpsExchange.FunctionalTests.Infrastructure;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The identity server's store while it is read: token requests read it all the time, and an admin change
/// (a key roll, a credential issued or revoked) must not wait for them. In SQLite's rollback-journal mode a
/// commit waits until no reader holds the file, and under load (RevocationTests' concurrent key roll, in the full
/// suite) gave up after the busy timeout: "database is locked". The store runs in WAL mode: readers never hold a commit up.
/// </summary>
public class IdentityStoreContentionTests
{
    private static readonly TimeSpan ReaderHeld = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task An_admin_change_commits_while_a_reader_holds_the_store_open()
    {
        await using var identity = await TestIdentity.StartAsync();
        var credential = await identity.IssueAsync(Role.State, "BLZ");
        await using var reader = new SqliteConnection($"Data Source={Path.Combine(identity.DataDirectory, "identity.db")};Pooling=False");
        await reader.OpenAsync();

        // A read in progress (as a token request's, only longer): a transaction that has read the credentials.
        await using var transaction = reader.BeginTransaction(deferred: true);
        await using (var read = reader.CreateCommand())
        {
            read.CommandText = "SELECT COUNT(*) FROM credentials";
            read.Transaction = transaction;
            Assert.True((long)(await read.ExecuteScalarAsync())! >= 2);
        }
        var watch = Stopwatch.StartNew();
        var revoked = identity.Credentials.RevokeCredentialAsync(new RevokeCredentialRequest { ClientId = credential.ClientId }).ResponseAsync;
        // Without WAL the commit waits for the reader (up to the 30-second busy timeout, then fails) as long as the reader
        // holds it, which is the whole wait: 20 seconds tell the two apart even on a loaded machine (a key roll took over 5 s at load 70).
        var finished = await Task.WhenAny(revoked, Task.Delay(ReaderHeld)) == revoked;
        Assert.True(finished, $"the revocation waited for a reader ({watch.Elapsed.TotalSeconds:0.0} s)");
        await revoked;
        // The key roll of RevocationTests (its audit record), beside the same reader.
        var (_, admin) = await identity.RequestTokenAsync(identity.Admin, MirpsAuth.AdminScope);
        watch.Restart();
        var rolled = identity.CredentialsWith(admin.GetProperty("access_token").GetString()).RollSigningKeyAsync(new RollSigningKeyRequest { Reason = "drill" }).ResponseAsync;
        finished = await Task.WhenAny(rolled, Task.Delay(ReaderHeld)) == rolled;
        await transaction.RollbackAsync();
        Assert.True(finished, $"the key roll waited for a reader ({watch.Elapsed.TotalSeconds:0.0} s)");
        Assert.NotEmpty((await rolled).SigningKeyId);
        var (status, _) = await identity.RequestTokenAsync(credential, MirpsAuth.ReadScope);
        Assert.NotEqual(200, status);
        await using (var mode = reader.CreateCommand())
        {
            mode.CommandText = "PRAGMA journal_mode";
            Assert.Equal("wal", await mode.ExecuteScalarAsync());
        }
    }
}
