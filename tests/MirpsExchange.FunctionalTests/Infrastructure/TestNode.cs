using Grpc.Core;
using Grpc.Net.Client;
using Mirps.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Mirps.Catalog.V1;
using Mirps.Observation.V1;
using Mirps.Tls;
using MirpsExchange.Node.Extensions;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// A real node (the same builder Program.cs uses) on real Kestrel at 127.0.0.1 with an ephemeral port
/// and its SQLite store in a temporary folder that is deleted afterwards.
/// </summary>
public sealed class TestNode : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestNode(WebApplication app, string folder, string country, TestIdentity identity, ClientCredential credential, ServerErrors errors)
    {
        _app = app;
        Errors = errors;
        Folder = folder;
        Country = country;
        Identity = identity;
        Address = app.ListeningAddress();
        HttpAddress = app.HttpAddress();
        CaFile = app.Configuration["Tls:CaFile"] is { Length: > 0 } ca ? ca : null;
        Credential = credential;
        // Over TLS the node's State presents its client certificate to the identity server and the node alike.
        ClientCertificate = identity.ClientCertificate(country);
        Http = new HttpClient(FederationTrust.CreateHandler(identity.CaFile, ClientCertificate));
        Tokens = new TokenClient(Http, identity.TokenEndpoint, credential, $"{MirpsAuth.ReadScope} {MirpsAuth.SubmitScope}");
        Channel = ChannelWith(Tokens.ToCallCredentials());
        Observations = new ObservationService.ObservationServiceClient(Channel);
        Catalog = new CatalogService.CatalogServiceClient(Channel);
    }

    public string Folder { get; }

    /// <summary>The node's PostgreSQL database when the run's store is PostgreSQL (<see cref="TestStores"/>); null on SQLite.</summary>
    public TestStore? Store { get; private init; }

    /// <summary>What names the node's store to <see cref="BeforeStoreCommand"/>: its PostgreSQL database, else its SQLite file.</summary>
    public string StoreName => Store?.Database ?? DatabasePath;

    /// <summary>The node's Error log entries: any the test did not <see cref="ServerErrors.Expect"/> fails it at dispose.</summary>
    public ServerErrors Errors { get; }

    /// <summary>The node's services, for tests that drive its store directly (as a replica's sync worker will).</summary>
    public IServiceProvider Services => _app.Services;
    public string Country { get; }
    public string Address { get; }
    /// <summary>Where HTTP/1.1 clients reach the JSON routes: the Node:HttpPort address (a test passes --Node:HttpPort=0), else <see cref="Address"/>.</summary>
    public string HttpAddress { get; }
    /// <summary>The node as another node's configured peer: its address and whose node it is.</summary>
    public (string Address, string Country) Peer => (Address, Country);
    /// <summary>The CA its test clients trust (the node's own Tls:CaFile), or null: cleartext or system trust.</summary>
    public string? CaFile { get; }
    public TestIdentity Identity { get; }
    /// <summary>The node's own State's credential.</summary>
    public ClientCredential Credential { get; }

    /// <summary>Links for changes a test hands to this node's replica writer directly (<see cref="SignedChanges"/>).</summary>
    public SignedChanges Signed { get; } = new();

    /// <summary>The CLI options that reach this node as its own State: --node, --identity, --credential (a file in the node's folder).</summary>
    public string[] CliArgs
    {
        get
        {
            var file = Path.Combine(Folder, "credential.json");
            OwnerOnlyFile.WriteAllText(file, System.Text.Json.JsonSerializer.Serialize(Credential));
            if (CaFile is null)
            {
                return ["--node", Address, "--identity", Identity.Issuer, "--credential", file];
            }
            var folder = Path.GetDirectoryName(CaFile)!;
            var name = MirpsExchange.Cli.Federation.DevelopmentCertificates.ClientName(Country);
            return ["--node", Address, "--identity", Identity.Issuer, "--credential", file,
                "--client-cert", MirpsExchange.Cli.Federation.DevelopmentCertificates.CertificateFile(folder, name),
                "--client-key", MirpsExchange.Cli.Federation.DevelopmentCertificates.KeyFile(folder, name), "--ca", CaFile];
        }
    }

    /// <summary>Over TLS, the client certificate of the node's own State (COUNTRY-client from the CA's folder); null in cleartext.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? ClientCertificate { get; }
    /// <summary>HTTP to the identity server as the node's State (presenting <see cref="ClientCertificate"/>).</summary>
    public HttpClient Http { get; }

    /// <summary>Tokens of the node's own State (read and submit).</summary>
    public TokenClient Tokens { get; }
    /// <summary>A channel whose calls carry the node's own State's token.</summary>
    public GrpcChannel Channel { get; }
    public ObservationService.ObservationServiceClient Observations { get; }
    public CatalogService.CatalogServiceClient Catalog { get; }
    public string DatabasePath => Path.Combine(Folder, "data", $"node-{Country.ToLowerInvariant()}.db");

    /// <summary>A channel whose calls carry the given credentials (or none: anonymous calls); over TLS it trusts <see cref="CaFile"/>.</summary>
    public GrpcChannel ChannelWith(CallCredentials? credentials) => ChannelWith(credentials, ClientCertificate);

    /// <summary>The same, presenting <paramref name="certificate"/> (or none) as client certificate over TLS.</summary>
    public GrpcChannel ChannelWith(CallCredentials? credentials, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate)
    {
        var tls = Address.StartsWith("https", StringComparison.Ordinal);
        var options = new GrpcChannelOptions { HttpHandler = FederationTrust.CreateHandler(CaFile, certificate), DisposeHttpClient = true };
        if (credentials is not null)
        {
            options.Credentials = ChannelCredentials.Create(tls ? ChannelCredentials.SecureSsl : ChannelCredentials.Insecure, credentials);
            options.UnsafeUseInsecureChannelCallCredentials = !tls;
        }
        return GrpcChannel.ForAddress(Address, options);
    }

    /// <summary>Tokens of <paramref name="credential"/> for this node (its audience), as any reader of it asks for them.</summary>
    public TokenClient TokensFor(ClientCredential credential, string scope = MirpsAuth.ReadScope) =>
        new(Identity.Http, Identity.TokenEndpoint, credential, scope, MirpsAuth.NodeAudience(Country));

    /// <summary>An observation client whose calls carry exactly this bearer token.</summary>
    public ObservationService.ObservationServiceClient ObservationsWith(string? token) => new(ChannelWith(token is null ? null
        : CallCredentials.FromInterceptor((_, metadata) => { metadata.Add("Authorization", $"Bearer {token}"); return Task.CompletedTask; })));

    /// <summary>A node of <paramref name="country"/> trusting the shared identity server (or the given one).</summary>
    public static Task<TestNode> StartAsync(string country = "BLZ", TestIdentity? identity = null, params string[] extraArgs) =>
        StartAsync(country, identity, null, extraArgs);

    /// <summary>
    /// A node of <paramref name="country"/> that starts on a copy of the store file <paramref name="store"/> (made by an earlier
    /// version, say): on PostgreSQL, a dump <see cref="CopyStoreTo"/> made, restored into a database of its own.
    /// </summary>
    public static Task<TestNode> StartOnStoreAsync(string store, string country, TestIdentity? identity = null, params string[] extraArgs) =>
        StartAsync(country, identity, store, extraArgs);

    /// <summary>As <see cref="StartOnStoreAsync(string, string, TestIdentity?, string[])"/>, with <paramref name="prepare"/> run on the data folder before the node starts.</summary>
    public static Task<TestNode> StartOnStoreAsync(string store, Action<string> prepare, string country, TestIdentity? identity = null, params string[] extraArgs) =>
        StartAsync(country, identity, store, extraArgs, prepare);

    private static async Task<TestNode> StartAsync(string country, TestIdentity? identity, string? store, string[] extraArgs, Action<string>? prepare = null)
    {
        var shared = await SharedIdentity.GetAsync();
        identity ??= shared;
        // A node for a non-MIRPS country never starts; its tests still need some credential to hold.
        var state = MirpsExchange.Catalogue.StandardCatalogue.LoadStandard().ReportingCountries.Contains(country) ? country : "BLZ";
        var credential = identity == shared
            ? await SharedIdentity.CredentialAsync(state)
            : await identity.IssueAsync(Mirps.Identity.V1.Role.State, state);
        var folder = TempFolder.Create();
        var database = await TestStores.CreateAsync();
        // The State's log-signing key, registered at the identity server before the node starts (as an admin would).
        string[] logKey = state == country ? [$"--Node:LogSigningKeyFile={await TestLogKeys.FileAsync(identity, country, folder)}"] : [];
        if (store is not null)
        {
            var copy = Path.Combine(folder, "data", $"node-{country.ToLowerInvariant()}.db");
            OwnerOnlyFile.CreateDirectory(Path.GetDirectoryName(copy)!);
            if (database is not null)
            {
                await database.RestoreAsync(store);
            }
            else
            {
                File.Copy(store, copy);
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(copy, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }
            }
            prepare?.Invoke(Path.GetDirectoryName(copy)!);
        }
        string[] args =
        [
            .. logKey,
            $"--Node:Country={country}",
            $"--Node:DataDirectory={Path.Combine(folder, "data")}",
            "--Node:Port=0",
            $"--Node:Issuer={identity.Issuer}",
            $"--contentRoot={folder}",
            "--Logging:LogLevel:Default=Warning",
            .. database?.Args ?? [],
            .. extraArgs,
        ];
        try
        {
            var errors = new ServerErrors();
            var app = await NodeApplication.BuildAsync(args, errors.AddTo);
            await app.StartAsync().WaitAsync(StartBound.Time);
            return new TestNode(app, folder, country, identity, credential, errors) { Store = database };
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

    /// <summary>Counts rows straight from the store file: what a test asserts was (not) written.</summary>
    public long CountRows(string table = "observations") => (long)Execute($"SELECT COUNT(*) FROM {table}")!;

    /// <summary>Runs SQL on the store directly, behind the node's back (to age or inspect rows).</summary>
    public object? Execute(string sql)
    {
        using var connection = TestStores.Open(Store, DatabasePath);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    /// <summary>
    /// A consistent copy of the store, taken while the node runs, that a node can start on (<see cref="StartOnStoreAsync(string, string, TestIdentity?, string[])"/>):
    /// a SQLite file, or on PostgreSQL a dump of the database (<see cref="TestStore.DumpToAsync"/>).
    /// </summary>
    public void CopyStoreTo(string file)
    {
        if (Store is not null)
        {
            Store.DumpToAsync(file).GetAwaiter().GetResult();
            return;
        }
        Execute($"VACUUM INTO '{file}'");
        using var connection = new SqliteConnection($"Data Source={file};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL"; // as a node's store always is (VACUUM INTO writes a rollback-journal file)
        command.ExecuteNonQuery();
    }

    /// <summary>Every row of a query on the store, each as its columns joined by '|' (NULL as "null").</summary>
    public List<string> Rows(string sql) => TestStores.Rows(Store, DatabasePath, sql);

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        Tokens.Dispose();
        Http.Dispose();
        ClientCertificate?.Dispose();
        await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await _app.DisposeAsync();
        SqliteConnection.ClearAllPools();
        if (Store is not null)
        {
            await Store.DropAsync();
        }
        TempFolder.Delete(Folder);
        Errors.AssertNoneUnexpected();
    }
}

public static class TempFolder
{
    public static string Create()
    {
        var folder = Path.Combine(Path.GetTempPath(), "mirps-tests", Guid.NewGuid().ToString("N"));
        OwnerOnlyFile.CreateDirectory(folder); // as a service's folder should be: a node refuses a store folder others may read
        return folder;
    }

    public static void Delete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // a file still held open by a dying process; the OS temp cleaner takes it
        }
    }
}
