using System.Net;
using Grpc.Core;
using Mirps.Auth;
using Mirps.Identity.V1;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Cli.Federation;

/// <summary>
/// The local federation's web app: a web port per process chosen before it starts (so the one public client
/// can be registered with every redirect URI), and a demo account per role, created once through the
/// identity server's AccountService with the bootstrap admin credential. Their generated temporary passwords
/// are printed once, when created, and stored nowhere; each is changed at its first sign-in.
/// </summary>
public static class DevnetWebApp
{
    /// <summary>The demo accounts: user name, kind, State (empty: the Secretariat's, or an admin).</summary>
    public static readonly IReadOnlyList<(string UserName, AccountKind Kind, string Country, string Role)> DemoAccounts =
    [
        ("demo.analista.pan", AccountKind.Analyst, "PAN", "State analyst (Panama)"),
        ("demo.registro.pan", AccountKind.Submitter, "PAN", "State submitter (Panama)"),
        ("demo.secretaria", AccountKind.Analyst, "", "Secretariat analyst"),
        ("demo.admin", AccountKind.Admin, "", "admin (enrols a TOTP authenticator at the first sign-in)"),
    ];

    /// <summary>A free loopback port, for a process's web endpoint.</summary>
    public static int FreePort() => LoopbackPorts.Free();

    /// <summary>The web app's address on a port: cleartext HTTP/1.1 (Node:HttpPort) or the TLS port.</summary>
    public static string Address(int port, bool tls) => $"{(tls ? "https" : "http")}://127.0.0.1:{port}";

    /// <summary>
    /// Registers the web app of <paramref name="addresses"/> as one public client and creates the demo accounts
    /// that do not exist yet: the client id, and the accounts created now with their temporary passwords.
    /// </summary>
    public static async Task<(string ClientId, List<(string UserName, string Role, string Password)> Created)> EnsureAsync(
        HttpClient http, string folder, Uri issuer, Uri adminApi, IEnumerable<string> addresses, CancellationToken cancellationToken, ClientTls? tls = null)
    {
        var admin = ClientCredential.Load(Path.Combine(folder, "identity", "admin-credential.json"));
        using var tokens = new TokenClient(http, new Uri(issuer, MirpsAuth.TokenEndpointPath), admin, MirpsAuth.AdminScope);
        using var channel = AuthenticatedChannel.Create(adminApi, tokens, tls);
        var accounts = new AccountService.AccountServiceClient(channel);
        var register = new RegisterPublicClientRequest { Description = "devnet: the web app of every node and the Secretariat" };
        register.RedirectUris.Add(addresses.Select(a => a + "/signin-callback"));
        var clientId = (await accounts.RegisterPublicClientAsync(register, cancellationToken: cancellationToken)).ClientId;

        var existing = new HashSet<string>(StringComparer.Ordinal);
        var page = "";
        do
        {
            var list = await accounts.ListAccountsAsync(new ListAccountsRequest { PageToken = page }, cancellationToken: cancellationToken);
            existing.UnionWith(list.Accounts.Select(a => a.UserName));
            page = list.NextPageToken;
        }
        while (page.Length > 0);
        var created = new List<(string, string, string)>();
        foreach (var (userName, kind, country, role) in DemoAccounts.Where(a => !existing.Contains(a.UserName)))
        {
            var response = await accounts.CreateAccountAsync(new CreateAccountRequest
            {
                UserName = userName, Kind = kind, Country = country, DisplayName = role,
                Secretariat = country.Length == 0 && kind is AccountKind.Analyst or AccountKind.Approver,
            },
                cancellationToken: cancellationToken);
            created.Add((userName, role, response.TemporaryPassword));
        }
        return (clientId, created);
    }
}
