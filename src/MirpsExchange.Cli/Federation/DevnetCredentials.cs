using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Mirps.Auth;
using Mirps.Identity.V1;

namespace MirpsExchange.Cli.Federation;

/// <summary>
/// The local federation's credentials: one per State and one for the Secretariat, issued through the
/// identity server's CredentialService with the bootstrap admin credential (never by writing its store),
/// kept in {folder}/credentials/ readable only by this user, and reused by the next run.
/// </summary>
public static class DevnetCredentials
{
    /// <summary>The file of a State's credential ("" for the Secretariat's), which its node reads to pull from peers.</summary>
    public static string PathOf(string folder, string country) =>
        Path.Combine(folder, "credentials", $"{(country.Length > 0 ? country : "secretariat")}.json");

    /// <summary>Credentials by State ISO3; "" is the Secretariat's. <paramref name="tls"/>: the CA an https admin API must chain to and the admin's client certificate (the same as <paramref name="http"/>'s).</summary>
    public static async Task<IReadOnlyDictionary<string, ClientCredential>> EnsureAsync(
        HttpClient http, string folder, Uri issuer, Uri adminApi, IReadOnlyList<string> states, CancellationToken cancellationToken, ClientTls? tls = null)
    {
        MirpsExchange.ServiceDefaults.OwnerOnlyFile.CreateDirectory(Path.Combine(folder, "credentials"));
        var admin = ClientCredential.Load(Path.Combine(folder, "identity", "admin-credential.json"));
        using var tokens = new TokenClient(http, new Uri(issuer, MirpsAuth.TokenEndpointPath), admin, MirpsAuth.AdminScope);
        using var channel = AuthenticatedChannel.Create(adminApi, tokens, tls);
        var service = new CredentialService.CredentialServiceClient(channel);
        var result = new Dictionary<string, ClientCredential>();
        foreach (var country in states.Append(""))
        {
            var path = PathOf(folder, country);
            if (File.Exists(path))
            {
                result[country] = ClientCredential.Load(path);
                continue;
            }
            var issued = await service.IssueCredentialAsync(new IssueCredentialRequest
            {
                Country = country,
                Role = country.Length > 0 ? Role.State : Role.Secretariat,
                AuthenticationMethod = AuthenticationMethod.ClientSecret,
                Description = country.Length > 0 ? $"devnet: national system and node of {country}" : "devnet: the Technical Secretariat",
            }, cancellationToken: cancellationToken);
            var credential = new ClientCredential(issued.Credential.ClientId, issued.ClientSecret);
            MirpsExchange.ServiceDefaults.OwnerOnlyFile.WriteAllText(path, JsonSerializer.Serialize(credential));
            result[country] = credential;
        }
        return result;
    }

    /// <summary>
    /// Registers each State node's log-signing key (the public half its node wrote beside the key at its first
    /// start) at the identity server, as an admin does with `mirps credentials register-log-key`; registering
    /// the same key again changes nothing.
    /// </summary>
    public static async Task RegisterLogKeysAsync(
        HttpClient http, string folder, Uri issuer, Uri adminApi, IEnumerable<(string Country, string PublicKeyFile)> keys, CancellationToken cancellationToken, ClientTls? tls = null)
    {
        var admin = ClientCredential.Load(Path.Combine(folder, "identity", "admin-credential.json"));
        using var tokens = new TokenClient(http, new Uri(issuer, MirpsAuth.TokenEndpointPath), admin, MirpsAuth.AdminScope);
        using var channel = AuthenticatedChannel.Create(adminApi, tokens, tls);
        var service = new CredentialService.CredentialServiceClient(channel);
        foreach (var (country, file) in keys)
        {
            var spki = Commands.CredentialsCommand.ReadPublicKeyPem(await File.ReadAllTextAsync(file, cancellationToken));
            await service.RegisterLogKeyAsync(new RegisterLogKeyRequest { Country = country, PublicKey = Google.Protobuf.ByteString.CopyFrom(spki) }, cancellationToken: cancellationToken);
        }
    }
}
