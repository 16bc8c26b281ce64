using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Mirps.Auth;
using Mirps.Catalog.V1;
using Mirps.Identity.V1;
using Mirps.Tls;
using MirpsExchange.Cli.Federation;

namespace MirpsExchange.Benchmarks;

/// <summary>
/// What authentication costs. Token issuance at the identity server (client secret, private_key_jwt, and a
/// client secret with the client certificate over TLS, whose tokens are bound to it). On a node, in
/// alternating rounds: gRPC health without a token (it needs none: the floor of a unary call), health and
/// the authorized GetCatalog with one token on every call (the node's validation cache hits) and with a
/// distinct, never seen token on every call (full validation: signature, decryption, claims), first on
/// cleartext loopback, then over mutual TLS with certificate-bound tokens (where the node refuses unbound ones).
/// </summary>
public static class AuthBenchmark
{
    private const int Callers = 16;
    private const int Rounds = 5;

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    public static async Task<int> RunAsync(BenchmarkArgs args)
    {
        var folder = Path.Combine(Path.GetTempPath(), "mirps-bench", Guid.NewGuid().ToString("N"));
        // Tokens per uncached measure and round: each is used for exactly one call.
        var fresh = args.Samples;
        try
        {
            var seconds = TimeSpan.FromSeconds(args.Seconds);
            double secretRate, jwtRate, tlsRate, pkiRate;
            Measures cleartext, mutualTls;

            // 1. Cleartext on loopback: the identity server and a node, tokens unbound.
            {
                // Issuance is measured with one credential per method: lift the per-client limit (60 a minute by default).
                using var identity = ServiceProcess.Identity(Path.Combine(folder, "identity"), "--Logging:LogLevel:Default=Warning", "--Identity:TokensPerClientPerMinute=100000000");
                await identity.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
                var issuer = new Uri(identity.Addresses[0].TrimEnd('/') + "/");
                var tokenEndpoint = new Uri(issuer, MirpsAuth.TokenEndpointPath);
                using var http = new HttpClient();
                var credentials = await DevnetCredentials.EnsureAsync(http, folder, issuer, new Uri(identity.Addresses[1]), ["BLZ"], CancellationToken.None);
                var (keyClient, key) = await IssueKeyCredentialAsync(http, folder, issuer, identity.Addresses[1]);
                var secretForm = SecretForm(credentials["BLZ"]);
                secretRate = await RateAsync(seconds, 4, () => TokenAsync(http, tokenEndpoint, secretForm));
                jwtRate = await RateAsync(seconds, 4, () => TokenAsync(http, tokenEndpoint, new Dictionary<string, string>
                {
                    ["grant_type"] = "client_credentials", ["client_id"] = keyClient, ["scope"] = MirpsAuth.ReadScope,
                    ["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ["client_assertion"] = Assertion(keyClient, issuer, key),
                }));

                using var node = ServiceProcess.Node("BLZ", Path.Combine(folder, "BLZ"), issuer.ToString(), "--Logging:LogLevel:Default=Warning");
                await node.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
                var pool = await PoolAsync(http, tokenEndpoint, secretForm, 2 * Rounds * fresh);
                using var channel = GrpcChannel.ForAddress(node.Address);
                cleartext = await MeasureAsync(channel, await TokenAsync(http, tokenEndpoint, secretForm), pool, seconds, fresh);
            }

            // 2. Mutual TLS: the development CA, the identity server and the node serve TLS and ask for client
            // certificates; BLZ's national system presents blz-client, so its tokens are bound to it (cnf x5t#S256).
            {
                var certificates = Path.Combine(folder, "certs");
                DevelopmentCertificates.Ensure(certificates, ["identity", "blz", DevelopmentCertificates.ClientName("BLZ"), DevelopmentCertificates.ClientName(FederationIdentity.Admin)]);
                var ca = DevelopmentCertificates.CertificateFile(certificates, DevelopmentCertificates.CaName);
                string[] Tls(string name) =>
                [
                    $"--Tls:CertificateFile={DevelopmentCertificates.CertificateFile(certificates, name)}",
                    $"--Tls:KeyFile={DevelopmentCertificates.KeyFile(certificates, name)}",
                    $"--Tls:CaFile={ca}",
                ];
                ClientTls Client(string party) => new(ca, FederationTrust.LoadClientCertificate(
                    DevelopmentCertificates.CertificateFile(certificates, DevelopmentCertificates.ClientName(party)),
                    DevelopmentCertificates.KeyFile(certificates, DevelopmentCertificates.ClientName(party))));
                var tlsFolder = Path.Combine(folder, "tls");
                using var identity = ServiceProcess.Identity(Path.Combine(tlsFolder, "identity"), ["--Logging:LogLevel:Default=Warning", "--Identity:TokensPerClientPerMinute=100000000", .. Tls("identity")]);
                await identity.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
                var issuer = new Uri(identity.Addresses[0].TrimEnd('/') + "/");
                var tokenEndpoint = new Uri(issuer, MirpsAuth.TokenEndpointPath);
                using var admin = Client(FederationIdentity.Admin);
                using var adminHttp = new HttpClient(admin.CreateHandler());
                var credentials = await DevnetCredentials.EnsureAsync(adminHttp, tlsFolder, issuer, new Uri(identity.Addresses[1]), ["BLZ"], CancellationToken.None, admin);
                using var blz = Client("BLZ");
                using var http = new HttpClient(blz.CreateHandler());
                var secretForm = SecretForm(credentials["BLZ"]);
                tlsRate = await RateAsync(seconds, 4, () => TokenAsync(http, tokenEndpoint, secretForm));
                // tls_client_auth (RFC 8705 §2.1): a credential whose only proof is the certificate naming urn:mirps:BLZ.
                var certificateClient = await IssueCertificateCredentialAsync(adminHttp, tlsFolder, issuer, identity.Addresses[1], admin);
                var certificateForm = new Dictionary<string, string>
                {
                    ["grant_type"] = "client_credentials", ["client_id"] = certificateClient, ["scope"] = MirpsAuth.ReadScope,
                };
                pkiRate = await RateAsync(seconds, 4, () => TokenAsync(http, tokenEndpoint, certificateForm));

                using var node = ServiceProcess.Node("BLZ", Path.Combine(tlsFolder, "BLZ"), issuer.ToString(), ["--Logging:LogLevel:Default=Warning", .. Tls("blz")]);
                await node.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), CancellationToken.None);
                var pool = await PoolAsync(http, tokenEndpoint, secretForm, 2 * Rounds * fresh);
                using var channel = GrpcChannel.ForAddress(node.Address, new GrpcChannelOptions { HttpHandler = blz.CreateHandler(), DisposeHttpClient = true });
                mutualTls = await MeasureAsync(channel, await TokenAsync(http, tokenEndpoint, secretForm), pool, seconds, fresh);
            }

            Console.WriteLine($"Token issuance (client_credentials, scope {MirpsAuth.ReadScope}, 4 callers, {args.Seconds} s each):");
            Console.WriteLine($"  client secret (PBKDF2-hashed), cleartext loopback:           {secretRate,10:N0} tokens/s");
            Console.WriteLine($"  private_key_jwt (RS256 assertion), cleartext loopback:       {jwtRate,10:N0} tokens/s");
            Console.WriteLine($"  client secret + client certificate over mTLS (bound token):  {tlsRate,10:N0} tokens/s");
            Console.WriteLine($"  client certificate alone, tls_client_auth (bound token):     {pkiRate,10:N0} tokens/s");
            Console.WriteLine("    (over mTLS both pay the certificate's chain and party check and the binding, TLS connections reused;");
            Console.WriteLine("     the first adds the PBKDF2 secret check, the second has no secret to check)");
            Console.WriteLine();
            Console.WriteLine($"Node unary calls ({Callers} callers, {Rounds} alternating rounds, medians; timed: {args.Seconds} s, fresh tokens: {fresh} calls per round,");
            Console.WriteLine("each with a distinct token fetched before timing, so the node's validation cache never holds it):");
            Console.WriteLine($"  {"",-44}{"cleartext loopback",20}{"mTLS, bound tokens",20}");
            void Row(string what, Func<Measures, double> value, string format = "N0") =>
                Console.WriteLine($"  {what,-44}{value(cleartext).ToString(format),20}{value(mutualTls).ToString(format),20}");
            Row("health, no token (floor) /s", m => Median(m.Health));
            Row("health, cached token /s", m => Median(m.HealthCached));
            Row("health, fresh token per call /s", m => Median(m.HealthFresh));
            Row("GetCatalog, cached token /s", m => Median(m.CatalogCached));
            Row("GetCatalog, fresh token per call /s", m => Median(m.CatalogFresh));
            Row("health: cached / no token (goal >= 0.90)", m => Median(m.HealthCached.Zip(m.Health, (a, b) => a / b)), "0.00");
            Row("health: fresh / no token", m => Median(m.HealthFresh.Zip(m.Health, (a, b) => a / b)), "0.00");
            Row("GetCatalog: fresh / cached", m => Median(m.CatalogFresh.Zip(m.CatalogCached, (a, b) => a / b)), "0.00");
            Row("GetCatalog cached / health no token", m => Median(m.CatalogCached.Zip(m.Health, (a, b) => a / b)), "0.00");
            Console.WriteLine($"  mTLS / cleartext, GetCatalog cached:        {Median(mutualTls.CatalogCached) / Median(cleartext.CatalogCached),20:0.00}");
            Console.WriteLine($"  mTLS / cleartext, health no token:          {Median(mutualTls.Health) / Median(cleartext.Health),20:0.00}");
            Console.WriteLine("Baselines: no authorized RPC runs without a token (the node refuses it), so health, which needs no token,");
            Console.WriteLine("is the no-auth floor over the same channel, and health with a token isolates authentication on the same call.");
            Console.WriteLine("GetCatalog answers the whole catalogue (~50 KB), so its ratio to health is the payload's cost, not the token's.");
            Console.WriteLine("Over TLS the node refuses unbound tokens, so there is no unbound-token run there: the mTLS column compares");
            Console.WriteLine("bound tokens with health over the same mTLS channel (the transport), and with the cleartext column (the binding check).");
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private sealed record Measures(List<double> Health, List<double> HealthCached, List<double> HealthFresh, List<double> CatalogCached, List<double> CatalogFresh);

    /// <summary>The five measures in alternating rounds over one channel; <paramref name="pool"/> holds 2 × Rounds × <paramref name="fresh"/> unused tokens.</summary>
    private static async Task<Measures> MeasureAsync(GrpcChannel channel, string token, string[] pool, TimeSpan seconds, int fresh)
    {
        var health = new Health.HealthClient(channel);
        var catalog = new CatalogService.CatalogServiceClient(channel);
        var cached = Bearer(token);
        // Warm up every path (JIT, connections, the node's signing keys and cache), with the cached token only: the pool stays unseen.
        await RateAsync(TimeSpan.FromSeconds(3), Callers, async () =>
        {
            await health.CheckAsync(new HealthCheckRequest());
            await health.CheckAsync(new HealthCheckRequest(), cached);
            await catalog.GetCatalogAsync(new GetCatalogRequest(), cached);
        });
        var measures = new Measures([], [], [], [], []);
        var next = 0;
        for (var round = 0; round < Rounds; round++)
        {
            measures.Health.Add(await RateAsync(seconds, Callers, async () => await health.CheckAsync(new HealthCheckRequest())));
            measures.HealthCached.Add(await RateAsync(seconds, Callers, async () => await health.CheckAsync(new HealthCheckRequest(), cached)));
            measures.HealthFresh.Add(await CountedRateAsync(pool.AsMemory(next, fresh), async t => await health.CheckAsync(new HealthCheckRequest(), Bearer(t))));
            next += fresh;
            measures.CatalogCached.Add(await RateAsync(seconds, Callers, async () => await catalog.GetCatalogAsync(new GetCatalogRequest(), cached)));
            measures.CatalogFresh.Add(await CountedRateAsync(pool.AsMemory(next, fresh), async t => await catalog.GetCatalogAsync(new GetCatalogRequest(), Bearer(t))));
            next += fresh;
        }
        return measures;
    }

    private static Metadata Bearer(string token) => new() { { "Authorization", $"Bearer {token}" } };

    private static Dictionary<string, string> SecretForm(ClientCredential credential) => new()
    {
        ["grant_type"] = "client_credentials", ["client_id"] = credential.ClientId, ["client_secret"] = credential.ClientSecret, ["scope"] = MirpsAuth.ReadScope,
    };

    /// <summary>Distinct tokens for the node (the credential's own by default), fetched before any timing.</summary>
    private static async Task<string[]> PoolAsync(HttpClient http, Uri endpoint, Dictionary<string, string> form, int count)
    {
        var tokens = new string[count];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            for (int i; (i = Interlocked.Increment(ref next)) < count;)
            {
                tokens[i] = await TokenAsync(http, endpoint, form);
            }
        }));
        return tokens;
    }

    private static async Task<string> TokenAsync(HttpClient http, Uri endpoint, Dictionary<string, string> form)
    {
        using var response = await http.PostAsync(endpoint, new FormUrlEncodedContent(form));
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"token request refused: {(int)response.StatusCode} {body}");
        }
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("access_token").GetString() ?? throw new InvalidOperationException("no access_token");
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

    /// <summary>One call per token, <see cref="Callers"/> at a time; calls per second.</summary>
    private static async Task<double> CountedRateAsync(ReadOnlyMemory<string> tokens, Func<string, Task> call)
    {
        var next = -1;
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(async _ =>
        {
            for (int i; (i = Interlocked.Increment(ref next)) < tokens.Length;)
            {
                await call(tokens.Span[i]);
            }
        }));
        return tokens.Length / watch.Elapsed.TotalSeconds;
    }

    /// <summary>A State credential that authenticates by its client certificate alone (its subject alternative name urn:mirps:BLZ).</summary>
    private static async Task<string> IssueCertificateCredentialAsync(HttpClient http, string folder, Uri issuer, string adminApi, ClientTls admin)
    {
        var adminCredential = ClientCredential.Load(Path.Combine(folder, "identity", "admin-credential.json"));
        using var tokens = new TokenClient(http, new Uri(issuer, MirpsAuth.TokenEndpointPath), adminCredential, MirpsAuth.AdminScope);
        using var channel = AuthenticatedChannel.Create(new Uri(adminApi), tokens, admin);
        var response = await new CredentialService.CredentialServiceClient(channel).IssueCredentialAsync(new IssueCredentialRequest
        {
            Role = Role.State, Country = "BLZ", AuthenticationMethod = AuthenticationMethod.TlsClientAuth, CertificateSubject = "urn:mirps:BLZ",
        });
        return response.Credential.ClientId;
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
