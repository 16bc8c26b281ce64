using System.Diagnostics;
using System.Security.Cryptography;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Mirps.Auth;
using Mirps.Identity.V1;
using MirpsExchange.Cli.Federation;

namespace MirpsExchange.Benchmarks;

/// <summary>
/// What authentication costs: token issuance at the identity server (client secret and private_key_jwt),
/// and on a node the same cheap unary call (gRPC health) with and without a bearer token to validate,
/// measured in the same run, with the ratio.
/// </summary>
public static class AuthBenchmark
{
    private const int Callers = 16;
    private const int Rounds = 7;

    private static double Median(IEnumerable<double> values) => values.Order().ElementAt(Rounds / 2);

    public static async Task<int> RunAsync(BenchmarkArgs args)
    {
        var folder = Path.Combine(Path.GetTempPath(), "mirps-bench", Guid.NewGuid().ToString("N"));
        try
        {
            // Issuance is measured with one credential per method: lift the per-client limit (60 a minute by default).
            using var identity = ServiceProcess.Identity(Path.Combine(folder, "identity"), "--Logging:LogLevel:Default=Warning", "--Identity:TokensPerClientPerMinute=100000000");
            await identity.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
            var issuer = new Uri(identity.Addresses[0].TrimEnd('/') + "/");
            var tokenEndpoint = new Uri(issuer, MirpsAuth.TokenEndpointPath);
            using var http = new HttpClient();
            var credentials = await DevnetCredentials.EnsureAsync(http, folder, issuer, new Uri(identity.Addresses[1]), ["BLZ"], CancellationToken.None);
            var (keyClient, key) = await IssueKeyCredentialAsync(http, folder, issuer, identity.Addresses[1]);

            var secretForm = new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials", ["client_id"] = credentials["BLZ"].ClientId, ["client_secret"] = credentials["BLZ"].ClientSecret,
            };
            var secretRate = await RateAsync(TimeSpan.FromSeconds(args.Seconds), 4, () => TokenAsync(http, tokenEndpoint, secretForm));
            var jwtRate = await RateAsync(TimeSpan.FromSeconds(args.Seconds), 4, () => TokenAsync(http, tokenEndpoint, new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials", ["client_id"] = keyClient,
                ["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ["client_assertion"] = Assertion(keyClient, issuer, key),
            }));

            using var node = ServiceProcess.Node("BLZ", Path.Combine(folder, "BLZ"), issuer.ToString(), "--Logging:LogLevel:Default=Warning");
            await node.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
            using var tokens = new TokenClient(http, tokenEndpoint, credentials["BLZ"], MirpsAuth.ReadScope);
            var token = await tokens.GetTokenAsync();
            using var anonymous = GrpcChannel.ForAddress(node.Address);
            using var authenticated = AuthenticatedChannel.Create(new Uri(node.Address), tokens);
            var plain = new Health.HealthClient(anonymous);
            var withToken = new Health.HealthClient(authenticated);
            // Warm up both paths (JIT, connections, the node's key cache), then alternate to share the machine's noise.
            await RateAsync(TimeSpan.FromSeconds(3), Callers, async () => { await plain.CheckAsync(new HealthCheckRequest()); await withToken.CheckAsync(new HealthCheckRequest()); });
            var anonymousRates = new List<double>();
            var authenticatedRates = new List<double>();
            for (var round = 0; round < Rounds; round++)
            {
                anonymousRates.Add(await RateAsync(TimeSpan.FromSeconds(args.Seconds), Callers, async () => await plain.CheckAsync(new HealthCheckRequest())));
                authenticatedRates.Add(await RateAsync(TimeSpan.FromSeconds(args.Seconds), Callers, async () => await withToken.CheckAsync(new HealthCheckRequest())));
            }
            var ratio = Median(authenticatedRates.Zip(anonymousRates, (a, b) => a / b));

            Console.WriteLine($"Token issuance (client_credentials, 4 callers, {args.Seconds} s each):");
            Console.WriteLine($"  client secret (PBKDF2-hashed):       {secretRate,10:N0} tokens/s");
            Console.WriteLine($"  private_key_jwt (RS256 assertion):   {jwtRate,10:N0} tokens/s");
            Console.WriteLine($"Node unary calls (gRPC health, {Callers} callers, {Rounds} alternating rounds of {args.Seconds} s, medians):");
            Console.WriteLine($"  without a token:                      {Median(anonymousRates),10:N0} calls/s");
            Console.WriteLine($"  with a bearer token validated:        {Median(authenticatedRates),10:N0} calls/s");
            Console.WriteLine($"  ratio with / without (median):        {ratio,10:0.00}   (goal: authentication costs under 10%, ratio >= 0.90)");
            Console.WriteLine($"  tokens the client asked for:          {tokens.TokensRequested,10}");
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task TokenAsync(HttpClient http, Uri endpoint, Dictionary<string, string> form)
    {
        using var response = await http.PostAsync(endpoint, new FormUrlEncodedContent(form));
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"token request refused: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    private static async Task<double> RateAsync(TimeSpan duration, int callers, Func<Task> call)
    {
        long count = 0;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, callers).Select(async _ =>
        {
            while (watch.Elapsed < duration)
            {
                await call();
                Interlocked.Increment(ref count);
            }
        }));
        return count / watch.Elapsed.TotalSeconds;
    }

    private static async Task<(string ClientId, RSA Key)> IssueKeyCredentialAsync(HttpClient http, string folder, Uri issuer, string adminApi)
    {
        var admin = ClientCredential.Load(Path.Combine(folder, "identity", "admin-credential.json"));
        using var tokens = new TokenClient(http, new Uri(issuer, MirpsAuth.TokenEndpointPath), admin, MirpsAuth.AdminScope);
        using var channel = AuthenticatedChannel.Create(new Uri(adminApi), tokens);
        var key = RSA.Create(2048);
        var p = key.ExportParameters(false);
        var response = await new CredentialService.CredentialServiceClient(channel).IssueCredentialAsync(new IssueCredentialRequest
        {
            Role = Role.State, Country = "BLZ", AuthenticationMethod = AuthenticationMethod.PrivateKeyJwt,
            PublicKeyJwk = $$"""{"kty":"RSA","use":"sig","kid":"bench","n":"{{Base64UrlEncoder.Encode(p.Modulus)}}","e":"{{Base64UrlEncoder.Encode(p.Exponent)}}"}""",
        });
        return (response.Credential.ClientId, key);
    }

    private static string Assertion(string clientId, Uri issuer, RSA key) => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
    {
        Issuer = clientId,
        Audience = issuer.ToString(),
        Claims = new Dictionary<string, object> { ["sub"] = clientId, ["jti"] = Guid.NewGuid().ToString() },
        Expires = DateTime.UtcNow.AddMinutes(2),
        TokenType = "client-authentication+jwt",
        SigningCredentials = new SigningCredentials(new RsaSecurityKey(key) { KeyId = "bench" }, SecurityAlgorithms.RsaSha256),
    });
}
