using Grpc.Core;
using Google.Protobuf.WellKnownTypes;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Mirps.Auth;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Cli.Federation;
using MirpsExchange.Node.Extensions;
using MirpsExchange.Node.Store;
using MirpsExchange.Node.Sync;
using MirpsExchange.Secretariat.Extensions;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// The Secretariat (the builder its Program.cs uses) on real Kestrel at 127.0.0.1 with an ephemeral port
/// and a temporary store, called with the Secretariat's credential. States' data arrives the way sync
/// brings it: each origin's changes applied through the replica write path, with the origin's times.
/// </summary>
public sealed class TestSecretariat : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TokenClient _tokens;
    private readonly Dictionary<string, long> _sequences = [];
    private readonly Dictionary<string, long> _revisions = [];
    private readonly SignedChanges _signed = new();
    private readonly PinnableClock _clock;

    private TestSecretariat(WebApplication app, string folder, TestIdentity identity, ClientCredential credential, ServerErrors errors, PinnableClock clock)
    {
        _clock = clock;
        _app = app;
        Errors = errors;
        Folder = folder;
        Identity = identity;
        Address = app.ListeningAddress();
        HttpAddress = app.HttpAddress();
        _tokens = new TokenClient(identity.Http, identity.TokenEndpoint, credential, MirpsAuth.ReadScope);
        Channel = AuthenticatedChannel.Create(new Uri(Address), _tokens);
        Regional = new RegionalService.RegionalServiceClient(Channel);
    }

    public string Folder { get; }

    /// <summary>The Secretariat's services (its metrics scrape endpoint, say).</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>The Secretariat's PostgreSQL database when the run's store is PostgreSQL (<see cref="TestStores"/>); null on SQLite.</summary>
    public TestStore? Store { get; private init; }

    /// <summary>The Secretariat's clock: a test pins it to judge what is overdue at another time.</summary>
    public PinnableClock Clock => _clock;

    /// <summary>The Secretariat's Error log entries: any the test did not <see cref="ServerErrors.Expect"/> fails it at dispose.</summary>
    public ServerErrors Errors { get; }
    public string Address { get; }
    /// <summary>Where HTTP/1.1 clients reach the JSON routes: the Node:HttpPort address (a test passes --Node:HttpPort=0), else <see cref="Address"/>.</summary>
    public string HttpAddress { get; }

    /// <summary>The Secretariat's own read token for itself, as its calls carry it.</summary>
    public ValueTask<string> TokenAsync() => _tokens.GetTokenAsync();
    public TestIdentity Identity { get; }
    public GrpcChannel Channel { get; }
    public RegionalService.RegionalServiceClient Regional { get; }

    /// <summary>Its store as a command's connection names it: the PostgreSQL database, or the SQLite file (as <see cref="TestNode.StoreName"/>).</summary>
    public string StoreName => Store?.Database ?? DatabasePath;

    /// <summary>The Secretariat's store file, to count what it wrote behind its back.</summary>
    public string DatabasePath => Path.Combine(Folder, "data", "secretariat.db");

    /// <summary>Counts rows straight from the store file: what a test asserts was (not) written.</summary>
    public long CountRows(string table)
    {
        using var connection = TestStores.Open(Store, DatabasePath);
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM {table}";
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>Every row of a query on the store, each as its columns joined by '|' (NULL as "null").</summary>
    public List<string> Rows(string sql) => TestStores.Rows(Store, DatabasePath, sql);

    /// <summary>Runs SQL on the store directly, behind the Secretariat's back (an old backup put back, between two runs).</summary>
    public void Execute(string sql)
    {
        using var connection = TestStores.Open(Store, DatabasePath);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>A regional client whose calls carry tokens of another credential and scope.</summary>
    public RegionalService.RegionalServiceClient RegionalWith(ClientCredential credential, string scope) =>
        new(AuthenticatedChannel.Create(new Uri(Address), new TokenClient(Identity.Http, Identity.TokenEndpoint, credential, scope, MirpsAuth.NodeAudience(MirpsAuth.Secretariat))));

    /// <summary>A regional client whose calls carry exactly this bearer token.</summary>
    public RegionalService.RegionalServiceClient RegionalWith(string token) =>
        new(GrpcChannel.ForAddress(Address, new GrpcChannelOptions
        {
            Credentials = ChannelCredentials.Create(ChannelCredentials.Insecure,
                CallCredentials.FromInterceptor((_, metadata) => { metadata.Add("Authorization", $"Bearer {token}"); return Task.CompletedTask; })),
            UnsafeUseInsecureChannelCallCredentials = true,
        }));

    /// <summary>
    /// Replicates changes of one origin as its node would have recorded them at <paramref name="recordedTime"/>:
    /// next sequence numbers, next revision per key; <paramref name="deleted"/> makes them deletions.
    /// </summary>
    public async Task ReplicateAsync(DateTimeOffset recordedTime, IEnumerable<Observation> observations, bool deleted = false)
    {
        var changes = new List<StoredObservation>();
        foreach (var o in observations)
        {
            var key = o.Key().ToString();
            var sequence = _sequences[o.Country] = _sequences.GetValueOrDefault(o.Country) + 1;
            var revision = _revisions[key] = _revisions.GetValueOrDefault(key) + 1;
            changes.Add(new StoredObservation
            {
                Observation = o, Origin = o.Country, OriginSequence = sequence, Revision = revision,
                RecordedTime = Timestamp.FromDateTimeOffset(recordedTime), Deleted = deleted,
            });
        }
        foreach (var origin in changes.GroupBy(c => c.Origin))
        {
            // Received when recorded: "as of" at the Secretariat is what it had received by then.
            _clock.Pinned = recordedTime;
            try
            {
                await ApplyAsync(origin.Key, [.. origin]);
            }
            finally
            {
                _clock.Pinned = null;
            }
        }
    }

    /// <summary>
    /// Applies changes of <paramref name="origin"/> built by the test (placeholders, say, then the content they stand for)
    /// through the replica write path, linked and signed as the origin signs a commit, with its key registered at the
    /// identity server: the Secretariat names the head in its answers, and `mirps regional verify` checks it.
    /// </summary>
    public async Task ApplyAsync(string origin, IReadOnlyList<StoredObservation> changes)
    {
        using var key = await TestLogKeys.KeyAsync(Identity, origin);
        await using var scope = _app.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<ReplicaWriter>().ApplyChangesAsync(origin, _signed.Link(changes, key), CancellationToken.None);
    }

    /// <param name="extraArgs">More configuration, such as Node:Credential and Node:Peers for a Secretariat that pulls.</param>
    public static Task<TestSecretariat> StartAsync(params string[] extraArgs) => StartAsync(null, extraArgs);

    /// <param name="configure">More services (a test's own answers for a dependency outside the process, say).</param>
    /// <param name="extraArgs">More configuration.</param>
    public static async Task<TestSecretariat> StartAsync(Action<WebApplicationBuilder>? configure, params string[] extraArgs) =>
        await StartAsync(TempFolder.Create(), await TestStores.CreateAsync(), configure, extraArgs);

    /// <summary>
    /// Stops this Secretariat and starts another on the same folder (its key, and the high-water mark beside it) and store, with
    /// <paramref name="whileStopped"/> run on the store in between (an old backup put back, say) and <paramref name="extraArgs"/>
    /// as its configuration (not this one's). The new one owns the folder and store; this one is done.
    /// </summary>
    public async Task<TestSecretariat> RestartAsync(Action<TestSecretariat>? whileStopped, params string[] extraArgs)
    {
        await StopAppAsync();
        _handedOver = true;
        Errors.AssertNoneUnexpected();
        whileStopped?.Invoke(this);
        return await StartAsync(Folder, Store, null, extraArgs);
    }

    private bool _handedOver;

    private static async Task<TestSecretariat> StartAsync(string folder, TestStore? database, Action<WebApplicationBuilder>? configure, string[] extraArgs)
    {
        var identity = await SharedIdentity.GetAsync();
        var credential = await SharedIdentity.CredentialAsync("");
        try
        {
            var errors = new ServerErrors();
            var clock = new PinnableClock();
            var app = await SecretariatApplication.BuildAsync(
            [
                // The Secretariat's key signs its decision log; registered first, as an admin would, so States verify it.
                $"--Node:LogSigningKeyFile={await TestLogKeys.FileAsync(identity, MirpsAuth.Secretariat, folder)}",
                $"--Node:DataDirectory={Path.Combine(folder, "data")}",
                "--Node:Port=0",
                $"--Node:Issuer={identity.Issuer}",
                $"--contentRoot={folder}",
                "--Logging:LogLevel:Default=Warning",
                .. database?.Args ?? [],
                .. extraArgs,
            ], builder =>
            {
                errors.AddTo(builder);
                builder.Services.AddSingleton<TimeProvider>(clock);
                configure?.Invoke(builder);
            });
            await app.StartAsync().WaitAsync(StartBound.Time);
            return new TestSecretariat(app, folder, identity, credential, errors, clock) { Store = database };
        }
        catch
        {
            if (database is not null)
            {
                await database.DropAsync();
            }
            TempFolder.Delete(folder);
            throw;
        }
    }

    private async Task StopAppAsync()
    {
        Channel.Dispose();
        _tokens.Dispose();
        await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await _app.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }

    public async ValueTask DisposeAsync()
    {
        if (_handedOver)
        {
            return; // RestartAsync stopped it and handed its folder and store to the next one
        }
        await StopAppAsync();
        if (Store is not null)
        {
            await Store.DropAsync();
        }
        TempFolder.Delete(Folder);
        Errors.AssertNoneUnexpected();
    }
}

/// <summary>The system clock, but for a moment pinned to a chosen time (while seeding data "received" then).</summary>
public sealed class PinnableClock : TimeProvider
{
    public DateTimeOffset? Pinned { get; set; }

    public override DateTimeOffset GetUtcNow() => Pinned ?? base.GetUtcNow();
}
