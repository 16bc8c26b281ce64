using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Mirps.Auth;
using Mirps.Identity.V1;
using Mirps.Tls;
using MirpsExchange.Identity.Credentials;
using MirpsExchange.Identity.Extensions;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// A real identity server (the builder Program.cs uses) on 127.0.0.1 with ephemeral ports and its
/// store and keys in a temporary folder; helpers to get tokens and to administer credentials.
/// </summary>
public sealed class TestIdentity : IAsyncDisposable
{
    private readonly WebApplication _app;
    private bool _folderMoved;

    private TestIdentity(WebApplication app, string folder, ServerErrors errors)
    {
        _app = app;
        Errors = errors;
        Folder = folder;
        var addresses = app.ListeningAddresses();
        Issuer = addresses[0].TrimEnd('/') + "/";
        GrpcAddress = addresses[1];
        // Started with --Tls:CaFile (its own clients' trust), the test's clients trust that CA too.
        CaFile = app.Configuration["Tls:CaFile"] is { Length: > 0 } ca ? ca : null;
        // Over TLS the admin presents the admin client certificate made beside the CA (mutual TLS; its tokens are bound to it).
        AdminCertificate = ClientCertificate("admin");
        Http = new HttpClient(FederationTrust.CreateHandler(CaFile, AdminCertificate));
        Admin = ClientCredential.Load(Path.Combine(DataDirectory, AdminBootstrap.FileName));
        AdminTokens = new TokenClient(Http, TokenEndpoint, Admin, MirpsAuth.AdminScope);
        AdminChannel = MirpsExchange.Cli.Federation.AuthenticatedChannel.Create(new Uri(GrpcAddress), AdminTokens, new MirpsExchange.Cli.Federation.ClientTls(CaFile, AdminCertificate));
        Credentials = new CredentialService.CredentialServiceClient(AdminChannel);
    }

    public string Folder { get; }

    /// <summary>The server's Error log entries: any the test did not <see cref="ServerErrors.Expect"/> fails it at dispose.</summary>
    public ServerErrors Errors { get; }
    public string DataDirectory => Path.Combine(Folder, "data");
    /// <summary>The issuer, exactly as tokens carry it (trailing slash included).</summary>
    public string Issuer { get; }
    public Uri TokenEndpoint => new(Issuer + MirpsAuth.TokenEndpointPath);
    public string GrpcAddress { get; }
    public ClientCredential Admin { get; }
    /// <summary>The CA its test clients trust (the identity server's Tls:CaFile), or null: cleartext or system trust.</summary>
    public string? CaFile { get; }
    /// <summary>HTTP to the identity server as the admin (over TLS presenting <see cref="AdminCertificate"/>).</summary>
    public HttpClient Http { get; }
    /// <summary>Over TLS, the admin client certificate; null in cleartext.</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? AdminCertificate { get; }

    /// <summary>
    /// Over TLS, the client certificate of <paramref name="party"/> ("pan", "secretariat", "admin") made by
    /// `mirps certs create` in the CA's folder; null in cleartext.
    /// </summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2? ClientCertificate(string party)
    {
        if (CaFile is null)
        {
            return null;
        }
        var folder = Path.GetDirectoryName(CaFile)!;
        var name = MirpsExchange.Cli.Federation.DevelopmentCertificates.ClientName(party);
        MirpsExchange.Cli.Federation.DevelopmentCertificates.Ensure(folder, [name]);
        return FederationTrust.LoadClientCertificate(
            MirpsExchange.Cli.Federation.DevelopmentCertificates.CertificateFile(folder, name), MirpsExchange.Cli.Federation.DevelopmentCertificates.KeyFile(folder, name));
    }
    public TokenClient AdminTokens { get; }
    public GrpcChannel AdminChannel { get; }
    public CredentialService.CredentialServiceClient Credentials { get; }
    /// <summary>The server's services, for tests that watch its state (such as the token endpoint throttle).</summary>
    public IServiceProvider Services => _app.Services;

    public static Task<TestIdentity> StartAsync(params string[] extraArgs) => StartAsync(TempFolder.Create(), extraArgs);

    /// <summary>Stops this server and starts another on the same store, keys and OAuth2 port (so the issuer stays the same).</summary>
    public async Task<TestIdentity> RestartAsync(params string[] extraArgs)
    {
        var port = new Uri(Issuer).Port;
        await _app.StopAsync();
        await _app.DisposeAsync();
        SqliteConnection.ClearAllPools();
        _folderMoved = true;
        return await StartAsync(Folder, [$"--Identity:Port={port}", .. extraArgs]);
    }

    private static async Task<TestIdentity> StartAsync(string folder, string[] extraArgs)
    {
        try
        {
            var errors = new ServerErrors();
            var app = await IdentityApplication.BuildAsync(
            [
                $"--Identity:DataDirectory={Path.Combine(folder, "data")}", "--Identity:Port=0", "--Identity:GrpcPort=0",
                $"--contentRoot={folder}", "--Logging:LogLevel:Default=Warning",
                // Tests ask for many tokens with one credential; a test of the limit sets its own (the last value wins).
                "--Identity:TokensPerClientPerMinute=1000000", .. extraArgs,
            ], errors.AddTo);
            await app.StartAsync().WaitAsync(StartBound.Time);
            return new TestIdentity(app, folder, errors);
        }
        catch
        {
            TempFolder.Delete(folder);
            throw;
        }
    }

    /// <summary>Issues a secret-based credential through the admin API; <paramref name="approve"/>: with the approve permission.</summary>
    public async Task<ClientCredential> IssueAsync(Role role, string country = "", bool approve = false)
    {
        var response = await Credentials.IssueCredentialAsync(new IssueCredentialRequest
        {
            Role = role,
            Country = country,
            AuthenticationMethod = AuthenticationMethod.ClientSecret,
            Description = $"test {role} {country}",
            Approve = approve,
        });
        return new ClientCredential(response.Credential.ClientId, response.ClientSecret);
    }

    /// <summary>A raw token request: the HTTP status and the JSON body, whatever they are.</summary>
    public async Task<(int Status, JsonElement Body)> RequestTokenAsync(IDictionary<string, string> form)
    {
        using var response = await Http.PostAsync(TokenEndpoint, new FormUrlEncodedContent(form));
        return ((int)response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    /// <summary>A token request with a secret; <paramref name="resource"/> names the node it is for (none: the credential's own).</summary>
    public Task<(int Status, JsonElement Body)> RequestTokenAsync(ClientCredential credential, string scope = "", string? resource = null)
    {
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = credential.ClientId,
            ["client_secret"] = credential.ClientSecret,
            ["scope"] = scope,
        };
        if (resource is not null)
        {
            form["resource"] = resource;
        }
        return RequestTokenAsync(form);
    }

    /// <summary>A channel to the admin API whose calls carry <paramref name="token"/> (or nothing).</summary>
    public CredentialService.CredentialServiceClient CredentialsWith(string? token) => new(ChannelWith(token));

    /// <summary>A channel to the admin API (any of its services) whose calls carry <paramref name="token"/> (or nothing).</summary>
    public GrpcChannel ChannelWith(string? token)
    {
        var options = new GrpcChannelOptions();
        if (token is not null)
        {
            options.Credentials = ChannelCredentials.Create(ChannelCredentials.Insecure,
                CallCredentials.FromInterceptor((_, metadata) => { metadata.Add("Authorization", $"Bearer {token}"); return Task.CompletedTask; }));
            options.UnsafeUseInsecureChannelCallCredentials = true;
        }
        return GrpcChannel.ForAddress(GrpcAddress, options);
    }

    public async Task StopAsync() => await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));

    public async ValueTask DisposeAsync()
    {
        AdminChannel.Dispose();
        AdminTokens.Dispose();
        Http.Dispose();
        AdminCertificate?.Dispose();
        if (_folderMoved)
        {
            return; // RestartAsync stopped this server and handed its folder to the next one
        }
        await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await _app.DisposeAsync();
        SqliteConnection.ClearAllPools();
        TempFolder.Delete(Folder);
        Errors.AssertNoneUnexpected();
    }
}
