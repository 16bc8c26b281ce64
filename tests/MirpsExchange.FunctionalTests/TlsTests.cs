using System.CommandLine;
using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Mirps.Auth;
using Mirps.Identity.V1;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using Mirps.Tls;
using MirpsExchange.Cli;
using MirpsExchange.Cli.Federation;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.FunctionalTests;

public class TlsTests(TlsFederation federation) : IClassFixture<TlsFederation>
{
    /// <summary>The failure is the TLS handshake refusing the certificate, not a timeout or a refused connection.</summary>
    private static void AssertCertificateRefused(Exception error)
    {
        var chain = new List<Exception>();
        for (var e = error; e is not null; e = e.InnerException)
        {
            chain.Add(e);
        }
        Assert.Contains(chain, e => e is AuthenticationException);
    }

    private static Task<(int Code, string Output, string Error)> CliAsync(params string[] args) => CliRunner.RunAsync(args);

    [Fact]
    public void Generated_certificates_chain_to_their_own_CA_only_and_name_the_loopback_addresses()
    {
        using var ca = X509CertificateLoader.LoadCertificateFromFile(federation.Ca);
        using var otherCa = X509CertificateLoader.LoadCertificateFromFile(federation.OtherCa);
        using var blz = X509CertificateLoader.LoadCertificateFromFile(DevelopmentCertificates.CertificateFile(federation.Certificates, "blz"));

        Assert.True(ca.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.True(ca.Extensions.OfType<X509KeyUsageExtension>().Single().KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign));
        Assert.InRange((ca.NotAfter - ca.NotBefore).TotalDays, 729, 731);
        Assert.False(blz.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        // A node's certificate serves and, as a client, pulls from peers; it names its State.
        Assert.Equal([FederationTrust.ServerAuthentication, FederationTrust.ClientAuthentication],
            blz.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value!).ToArray());
        Assert.Equal("BLZ", FederationIdentity.PartyOf(blz));
        using (var client = X509CertificateLoader.LoadCertificateFromFile(DevelopmentCertificates.CertificateFile(federation.Certificates, "blz-client")))
        using (var identityServer = X509CertificateLoader.LoadCertificateFromFile(DevelopmentCertificates.CertificateFile(federation.Certificates, "identity")))
        {
            Assert.Equal(FederationTrust.ClientAuthentication, Assert.Single(client.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>()).Value);
            Assert.Equal("BLZ", FederationIdentity.PartyOf(client));
            Assert.Null(FederationIdentity.PartyOf(identityServer));
            using var serverChain = new X509Chain { ChainPolicy = FederationTrust.ChainPolicy(ca) };
            Assert.False(serverChain.Build(client)); // a client certificate cannot serve
        }
        var names = blz.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Contains("localhost", names.EnumerateDnsNames());
        Assert.Equal([IPAddress.Loopback, IPAddress.IPv6Loopback], names.EnumerateIPAddresses().ToArray());
        Assert.True(blz.MatchesHostname("127.0.0.1") && blz.MatchesHostname("localhost"));
        Assert.False(blz.MatchesHostname("example.org"));

        using var trusted = new X509Chain { ChainPolicy = FederationTrust.ChainPolicy(ca) };
        Assert.True(trusted.Build(blz), string.Join("; ", trusted.ChainStatus.Select(s => s.StatusInformation)));
        Assert.Equal(ca.Thumbprint, trusted.ChainElements[^1].Certificate.Thumbprint);
        using var other = new X509Chain { ChainPolicy = FederationTrust.ChainPolicy(otherCa) };
        Assert.False(other.Build(blz));
        // Trust is CustomRootTrust on purpose: the machine's own roots know nothing of the development CA.
        using var system = new X509Chain { ChainPolicy = { RevocationMode = X509RevocationMode.NoCheck } };
        Assert.False(system.Build(blz));
        // A server certificate is no CA: a client trusting it as one is refused up front.
        Assert.Throws<InvalidDataException>(() => FederationTrust.LoadCa(DevelopmentCertificates.CertificateFile(federation.Certificates, "blz")));
    }

    [Fact]
    public async Task Certs_create_keeps_the_CA_on_rerun_writes_owner_only_keys_and_force_replaces_everything()
    {
        var folder = Path.Combine(federation.Folder, $"rerun-{Guid.NewGuid():N}");
        string Thumbprint(string name) => X509CertificateLoader.LoadCertificateFromFile(DevelopmentCertificates.CertificateFile(folder, name)).Thumbprint;

        var first = await CliAsync("certs", "create", "--out", folder, "--name", "blz", "--name", "identity");
        var (ca, blz) = (Thumbprint("ca"), Thumbprint("blz"));
        var second = await CliAsync("certs", "create", "--out", folder, "--name", "blz", "--name", "pan");
        var kept = (Thumbprint("ca"), Thumbprint("blz"));
        using (var pan = X509CertificateLoader.LoadCertificateFromFile(DevelopmentCertificates.CertificateFile(folder, "pan")))
        using (var caCertificate = X509CertificateLoader.LoadCertificateFromFile(DevelopmentCertificates.CertificateFile(folder, "ca")))
        using (var chain = new X509Chain { ChainPolicy = FederationTrust.ChainPolicy(caCertificate) })
        {
            Assert.True(chain.Build(pan)); // issued later by the kept CA
        }
        var forced = await CliAsync("certs", "create", "--out", folder, "--name", "blz", "--force");

        Assert.Equal(CliApp.Ok, first.Code);
        Assert.Equal(3, first.Output.Split('\n').Count(l => l.StartsWith("created", StringComparison.Ordinal)));
        Assert.Equal(CliApp.Ok, second.Code);
        Assert.Equal((ca, blz), kept);
        Assert.Contains($"kept    {DevelopmentCertificates.CertificateFile(folder, "ca")}", second.Output);
        Assert.Contains($"created {DevelopmentCertificates.CertificateFile(folder, "pan")}", second.Output);
        Assert.Equal(CliApp.Ok, forced.Code);
        Assert.NotEqual(ca, Thumbprint("ca"));
        Assert.NotEqual(blz, Thumbprint("blz"));
        Assert.Empty(Directory.GetFiles(folder, "*.tmp"));
        if (!OperatingSystem.IsWindows())
        {
            foreach (var key in Directory.GetFiles(folder, "*.key"))
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
            }
        }
        var refused = await CliAsync("certs", "create", "--out", folder, "--name", "../escape");
        Assert.Equal(CliApp.Refused, refused.Code);
        Assert.Contains("not a usable service name", refused.Error);
    }

    [Fact]
    public async Task A_node_over_TLS_answers_a_client_that_trusts_the_CA_with_a_token_from_a_TLS_identity_server()
    {
        var node = federation.Node;
        Assert.StartsWith("https://127.0.0.1:", federation.Identity.Issuer);
        Assert.StartsWith("https://127.0.0.1:", node.Address);
        // One port serves OAuth2 (HTTP/1.1) and the gRPC admin API (HTTP/2) by ALPN.
        Assert.Equal(federation.Identity.Issuer.TrimEnd('/'), federation.Identity.GrpcAddress.TrimEnd('/'));

        await node.Observations.SubmitObservationsAsync(Submit(Refugees(period: "2019", value: 201)));
        var stored = Assert.Single(await node.QueryAsync(new StreamObservationsRequest { PeriodFrom = "2019", PeriodTo = "2019" }));
        Assert.Equal(201, stored.Observation.Value);

        // The CLI with --ca: a token over TLS from the identity server, then the submit over TLS.
        var file = Path.Combine(node.Folder, "tls.csv");
        await File.WriteAllLinesAsync(file, ["indicator_code,country,period,sex,age,country_of_origin,value,status,note", "REFUGEES,BLZ,2018,_T,_T,_T,180,,"]);
        var submit = await CliAsync(["submit", file, .. node.CliArgs]);
        Assert.True(submit.Code == CliApp.Ok, submit.Error);
        Assert.Contains("1 inserted", submit.Output);
        // The admin API over the same TLS port, with the CLI trusting the CA.
        var credential = Path.Combine(node.Folder, "admin.json");
        OwnerOnlyFile.WriteAllText(credential, JsonSerializer.Serialize(federation.Identity.Admin));
        var list = await CliAsync("credentials", "list", "--identity", federation.Identity.Issuer, "--admin-api", federation.Identity.GrpcAddress,
            "--credential", credential, "--ca", federation.Ca, "--client-cert", DevelopmentCertificates.CertificateFile(federation.Certificates, "admin-client"),
            "--client-key", DevelopmentCertificates.KeyFile(federation.Certificates, "admin-client"));
        Assert.True(list.Code == CliApp.Ok, list.Error);
        Assert.Contains(node.Credential.ClientId, list.Output);
    }

    [Fact]
    public async Task A_client_that_does_not_trust_the_CA_fails_the_handshake()
    {
        // The machine's ordinary trust: the development CA is not in it.
        using var channel = GrpcChannel.ForAddress(federation.Node.Address);
        var node = await Assert.ThrowsAsync<RpcException>(() => new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync);
        AssertCertificateRefused(node);

        using var http = new HttpClient();
        using var tokens = new TokenClient(http, federation.Identity.TokenEndpoint, federation.Identity.Admin, MirpsAuth.AdminScope);
        AssertCertificateRefused(await Assert.ThrowsAsync<HttpRequestException>(() => tokens.GetTokenAsync().AsTask()));

        // The CLI without --ca says the node could not be reached (exit 2) and sends nothing.
        var before = federation.Node.CountRows();
        var file = Path.Combine(federation.Node.Folder, "untrusted.csv");
        await File.WriteAllLinesAsync(file, ["indicator_code,country,period,sex,age,country_of_origin,value,status,note", "REFUGEES,BLZ,2017,_T,_T,_T,170,,"]);
        var cliArgs = federation.Node.CliArgs;
        var submit = await CliAsync(["submit", file, .. cliArgs[..^2]]); // without "--ca FILE"
        Assert.Equal(CliApp.Failed, submit.Code);
        Assert.Contains("SSL", submit.Error, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(before, federation.Node.CountRows());
    }

    [Fact]
    public async Task A_certificate_from_another_CA_is_refused()
    {
        // A client that trusts another CA (not the machine's roots either) refuses the node and the identity server.
        using var channel = GrpcChannel.ForAddress(federation.Node.Address, new GrpcChannelOptions
        {
            HttpHandler = FederationTrust.CreateHandler(federation.OtherCa),
            DisposeHttpClient = true,
        });
        var node = await Assert.ThrowsAsync<RpcException>(() => new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync);
        AssertCertificateRefused(node);
        using var http = new HttpClient(FederationTrust.CreateHandler(federation.OtherCa));
        AssertCertificateRefused(await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(federation.Identity.Issuer + ".well-known/openid-configuration")));

        // The same client with the right CA gets through: what differs is only the CA.
        using var trusting = GrpcChannel.ForAddress(federation.Node.Address, new GrpcChannelOptions { HttpHandler = FederationTrust.CreateHandler(federation.Ca), DisposeHttpClient = true });
        var health = await new Health.HealthClient(trusting).CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(10));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);

        // The CLI refuses, as a usage error, a --ca that is a server certificate rather than a CA.
        var notCa = await CliAsync(["submit", "missing.csv", .. federation.Node.CliArgs[..^2], "--ca", DevelopmentCertificates.CertificateFile(federation.Certificates, "blz")]);
        Assert.NotEqual(CliApp.Ok, notCa.Code);
        Assert.Contains("is not a CA certificate", notCa.Error);
    }

    [Fact]
    public async Task A_node_trusting_another_CA_cannot_fetch_the_identity_servers_keys_so_no_token_passes()
    {
        // Served with a certificate of the right CA, but its own clients trust the other CA only.
        await using var node = await TestNode.StartAsync("PAN", federation.Identity,
            [.. TlsFederation.TlsArgs(federation.Certificates, "pan", federation.OtherCa)]);
        node.Errors.Expect("OpenIddict.Validation"); // the refused handshake with the identity server, logged by OpenIddict
        // No client certificate: the node would refuse one of the right CA in the handshake, as it trusts the other CA only.
        using var trusting = GrpcChannel.ForAddress(node.Address, new GrpcChannelOptions
        {
            HttpHandler = FederationTrust.CreateHandler(federation.Ca),
            DisposeHttpClient = true,
            Credentials = ChannelCredentials.Create(ChannelCredentials.SecureSsl, node.Tokens.ToCallCredentials()),
        });

        var error = await Assert.ThrowsAsync<RpcException>(() => new ObservationService.ObservationServiceClient(trusting)
            .SubmitObservationsAsync(Submit(Refugees(country: "PAN")), deadline: DateTime.UtcNow.AddSeconds(30)).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Equal(0, node.CountRows());
    }

    [Fact]
    public async Task A_replica_pulls_from_a_TLS_peer_verifying_it_against_the_CA()
    {
        await federation.Node.Observations.SubmitObservationsAsync(Submit(Refugees(period: "2016", value: 160)));
        // Panama's node pulls with Panama's credential, its tokens bound to its own certificate (which names PAN).
        var panama = await federation.Identity.IssueAsync(Role.State, "PAN");
        var file = Path.Combine(federation.Folder, $"pan-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(panama));
        await using var replica = await TestNode.StartAsync("PAN", federation.Identity,
        [
            .. TlsFederation.TlsArgs(federation.Certificates, "pan", federation.Ca),
            $"--Node:Credential={file}", $"--Node:Peers:0:Address={federation.Node.Address}", "--Node:Peers:0:Origins:0=BLZ", "--Node:Peers:0:Country=BLZ",
        ]);

        var deadline = DateTime.UtcNow.AddSeconds(20);
        List<StoredObservation> pulled;
        while ((pulled = await replica.QueryAsync(new StreamObservationsRequest { Countries = { "BLZ" }, PeriodFrom = "2016", PeriodTo = "2016" })).Count == 0
            && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.Equal(160, Assert.Single(pulled).Observation.Value);
    }

    [Fact]
    public async Task A_bound_token_is_refused_with_another_States_certificate_or_none_even_once_the_node_has_cached_it()
    {
        var node = federation.Node;
        var token = await node.Tokens.GetTokenAsync();
        // The identity server bound it to the certificate Belize presented (cnf x5t#S256).
        var payload = System.Text.Json.Nodes.JsonNode.Parse(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(token.Split('.')[1]))!;
        var thumbprint = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(System.Security.Cryptography.SHA256.HashData(node.ClientCertificate!.RawData));
        Assert.Equal(thumbprint, (string?)payload["cnf"]?["x5t#S256"]);

        CallCredentials Bearer() => CallCredentials.FromInterceptor((_, metadata) => { metadata.Add("Authorization", $"Bearer {token}"); return Task.CompletedTask; });
        var request = new Mirps.Catalog.V1.GetCatalogRequest();
        // With Belize's certificate it works, and the node now remembers the token.
        using (var own = node.ChannelWith(Bearer(), node.ClientCertificate))
        {
            await new Mirps.Catalog.V1.CatalogService.CatalogServiceClient(own).GetCatalogAsync(request);
        }
        // The same token replayed by someone holding Panama's certificate, or no certificate at all: refused.
        using var panama = federation.Identity.ClientCertificate("PAN");
        foreach (var certificate in new[] { panama, null })
        {
            using var replay = node.ChannelWith(Bearer(), certificate);
            var error = await Assert.ThrowsAsync<RpcException>(() => new Mirps.Catalog.V1.CatalogService.CatalogServiceClient(replay).GetCatalogAsync(request).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        }
        // And the identity server gives no token over TLS to a client without a certificate.
        using (var bare = new HttpClient(FederationTrust.CreateHandler(federation.Ca)))
        using (var tokens = new TokenClient(bare, federation.Identity.TokenEndpoint, node.Credential, MirpsAuth.ReadScope))
        {
            Assert.Equal("invalid_client", (await Assert.ThrowsAsync<TokenRequestException>(() => tokens.GetTokenAsync().AsTask())).Error);
        }
        // Nor one bound to another party's certificate: Belize's credential with Panama's certificate.
        using (var foreign = new HttpClient(FederationTrust.CreateHandler(federation.Ca, panama)))
        using (var tokens = new TokenClient(foreign, federation.Identity.TokenEndpoint, node.Credential, MirpsAuth.ReadScope))
        {
            Assert.Equal("invalid_client", (await Assert.ThrowsAsync<TokenRequestException>(() => tokens.GetTokenAsync().AsTask())).Error);
        }
    }

    private X509Certificate2 Certificate(string name) => FederationTrust.LoadClientCertificate(
        DevelopmentCertificates.CertificateFile(federation.Certificates, name), DevelopmentCertificates.KeyFile(federation.Certificates, name));

    /// <summary>A token request for <paramref name="clientId"/> with no secret, over a connection presenting <paramref name="certificate"/>.</summary>
    private async Task<string> CertificateTokenAsync(string clientId, X509Certificate2 certificate, string resource)
    {
        using var http = new HttpClient(FederationTrust.CreateHandler(federation.Ca, certificate));
        using var tokens = new TokenClient(http, federation.Identity.TokenEndpoint, new ClientCredential(clientId, ""), MirpsAuth.ReadScope, resource);
        return await tokens.GetTokenAsync();
    }

    [Fact]
    public async Task A_tls_client_auth_credential_gets_a_bound_token_with_its_certificate_and_no_secret_and_it_works_at_its_node()
    {
        // Issued with the CLI: the client id is printed, and there is no secret.
        var admin = Path.Combine(federation.Folder, $"admin-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(admin, JsonSerializer.Serialize(federation.Identity.Admin));
        var issue = await CliAsync("credentials", "issue", "--role", "state", "--country", "PAN", "--certificate-subject", "urn:mirps:PAN",
            "--identity", federation.Identity.Issuer, "--admin-api", federation.Identity.GrpcAddress, "--credential", admin, "--ca", federation.Ca,
            "--client-cert", DevelopmentCertificates.CertificateFile(federation.Certificates, "admin-client"),
            "--client-key", DevelopmentCertificates.KeyFile(federation.Certificates, "admin-client"));
        Assert.True(issue.Code == CliApp.Ok, issue.Error);
        Assert.DoesNotContain("client_secret:", issue.Output);
        var clientId = issue.Output.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("client_id:", StringComparison.Ordinal))["client_id:".Length..].Trim();
        Assert.StartsWith("pan-state-", clientId);
        var listed = (await federation.Identity.Credentials.ListCredentialsAsync(new ListCredentialsRequest { PageSize = 100 })).Credentials.Single(c => c.ClientId == clientId);
        Assert.Equal(AuthenticationMethod.TlsClientAuth, listed.AuthenticationMethod);
        var audit = await federation.Identity.Credentials.ListAuditEventsAsync(new ListAuditEventsRequest());
        Assert.Contains(audit.Events, e => e.Action == "IssueCredential" && e.ClientId == clientId && e.Detail.Contains("tls_client_auth") && e.Detail.Contains("uri:urn:mirps:PAN"));

        // A credential file with the client id alone, and Panama's client certificate: a token, bound to that certificate.
        var file = Path.Combine(federation.Folder, $"pan-tls-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(file, $"{{\"client_id\": \"{clientId}\"}}");
        var credential = ClientCredential.Load(file);
        using var panama = Certificate("pan-client");
        string token;
        using (var http = new HttpClient(FederationTrust.CreateHandler(federation.Ca, panama)))
        using (var tokens = new TokenClient(http, federation.Identity.TokenEndpoint, credential, MirpsAuth.ReadScope, MirpsAuth.NodeAudience("PAN")))
        {
            token = await tokens.GetTokenAsync();
        }
        var payload = System.Text.Json.Nodes.JsonNode.Parse(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(token.Split('.')[1]))!;
        Assert.Equal(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(System.Security.Cryptography.SHA256.HashData(panama.RawData)), (string?)payload["cnf"]?["x5t#S256"]);
        Assert.Equal(clientId, (string?)payload["sub"]);

        // Panama's node accepts it over a connection with that certificate, and with no other.
        await using var node = await TestNode.StartAsync("PAN", federation.Identity, [.. TlsFederation.TlsArgs(federation.Certificates, "pan", federation.Ca)]);
        CallCredentials Bearer() => CallCredentials.FromInterceptor((_, metadata) => { metadata.Add("Authorization", $"Bearer {token}"); return Task.CompletedTask; });
        using (var own = node.ChannelWith(Bearer(), panama))
        {
            await new Mirps.Catalog.V1.CatalogService.CatalogServiceClient(own).GetCatalogAsync(new Mirps.Catalog.V1.GetCatalogRequest());
        }
        using var costaRica = Certificate("cri-client");
        using (var replay = node.ChannelWith(Bearer(), costaRica))
        {
            var error = await Assert.ThrowsAsync<RpcException>(() => new Mirps.Catalog.V1.CatalogService.CatalogServiceClient(replay).GetCatalogAsync(new Mirps.Catalog.V1.GetCatalogRequest()).ResponseAsync);
            Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        }
    }

    [Fact]
    public async Task Over_TLS_a_persons_code_is_redeemed_only_with_a_client_certificate_and_the_token_works_only_with_it()
    {
        var clientId = await PersonSignIn.RegisterClientAsync(federation.Identity);
        var (_, temporary) = await PersonSignIn.CreateAccountAsync(federation.Identity, "tls.blz", AccountKind.Analyst, "BLZ");
        using var belize = Certificate("blz-client");
        using var withCertificate = new PersonSignIn(federation.Identity, clientId, belize);
        using var without = new PersonSignIn(federation.Identity, clientId);

        var (verifier, challenge) = PersonSignIn.Pkce();
        var (signedIn, _) = await withCertificate.SignInAsync(withCertificate.AuthorizeUrl(challenge), "tls.blz", temporary, "a long new passphrase");
        var code = PersonSignIn.CodeOf(signedIn);
        // Without a client certificate: no token (nodes over TLS refuse unbound tokens).
        var (refused, refusal) = await without.RedeemAsync(code, verifier);
        Assert.NotEqual(200, refused);
        Assert.Equal("invalid_client", refusal.GetProperty("error").GetString());
        var (status, body) = await withCertificate.RedeemAsync(code, verifier);
        Assert.True(status == 200, body.ToString());
        var token = body.GetProperty("access_token").GetString()!;
        var payload = System.Text.Json.Nodes.JsonNode.Parse(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(token.Split('.')[1]))!;
        Assert.Equal(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(System.Security.Cryptography.SHA256.HashData(belize.RawData)), (string?)payload["cnf"]?["x5t#S256"]);

        CallCredentials Bearer() => CallCredentials.FromInterceptor((_, metadata) => { metadata.Add("Authorization", $"Bearer {token}"); return Task.CompletedTask; });
        using (var own = federation.Node.ChannelWith(Bearer(), belize))
        {
            await new Mirps.Catalog.V1.CatalogService.CatalogServiceClient(own).GetCatalogAsync(new Mirps.Catalog.V1.GetCatalogRequest());
        }
        using var panama = Certificate("pan-client");
        using var replay = federation.Node.ChannelWith(Bearer(), panama);
        var error = await Assert.ThrowsAsync<RpcException>(() => new Mirps.Catalog.V1.CatalogService.CatalogServiceClient(replay).GetCatalogAsync(new Mirps.Catalog.V1.GetCatalogRequest()).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task A_tls_client_auth_credential_is_refused_with_another_States_certificate_another_subject_or_none()
    {
        var issued = await federation.Identity.Credentials.IssueCredentialAsync(new IssueCredentialRequest
        {
            Role = Role.State, Country = "PAN", AuthenticationMethod = AuthenticationMethod.TlsClientAuth,
            CertificateSubject = "CN=pan-client, O=MirpsExchange (development only)",
        });
        Assert.Empty(issued.ClientSecret);
        var clientId = issued.Credential.ClientId;
        var resource = MirpsAuth.NodeAudience("PAN");

        // Its own certificate (the registered subject DN) works.
        using var panama = Certificate("pan-client");
        Assert.NotEmpty(await CertificateTokenAsync(clientId, panama, resource));
        // Costa Rica's client certificate, of the same CA: refused.
        using var costaRica = Certificate("cri-client");
        Assert.Equal("invalid_client", (await Assert.ThrowsAsync<TokenRequestException>(() => CertificateTokenAsync(clientId, costaRica, resource))).Error);
        // Panama's node certificate: same CA, names urn:mirps:PAN and allows client authentication, but another subject than registered.
        using var panamaNode = Certificate("pan");
        Assert.Equal("invalid_client", (await Assert.ThrowsAsync<TokenRequestException>(() => CertificateTokenAsync(clientId, panamaNode, resource))).Error);
        // No certificate at all, and no secret: refused (OpenIddict: a confidential client sent no credentials).
        using (var bare = new HttpClient(FederationTrust.CreateHandler(federation.Ca)))
        using (var tokens = new TokenClient(bare, federation.Identity.TokenEndpoint, new ClientCredential(clientId, ""), MirpsAuth.ReadScope, resource))
        {
            Assert.Contains((await Assert.ThrowsAsync<TokenRequestException>(() => tokens.GetTokenAsync().AsTask())).Error, new[] { "invalid_client", "invalid_request" });
        }
        // A guessed secret does not stand in for the certificate either.
        using (var bare = new HttpClient(FederationTrust.CreateHandler(federation.Ca, costaRica)))
        using (var tokens = new TokenClient(bare, federation.Identity.TokenEndpoint, new ClientCredential(clientId, "guess"), MirpsAuth.ReadScope, resource))
        {
            Assert.Equal("invalid_client", (await Assert.ThrowsAsync<TokenRequestException>(() => tokens.GetTokenAsync().AsTask())).Error);
        }
        // A subject that is neither a DN nor a SAN is refused by field.
        await RpcAssert.InvalidArgumentAsync(() => federation.Identity.Credentials.IssueCredentialAsync(new IssueCredentialRequest
        {
            Role = Role.State, Country = "PAN", AuthenticationMethod = AuthenticationMethod.TlsClientAuth, CertificateSubject = "not a subject",
        }).ResponseAsync, "certificate_subject");
    }

    [Fact]
    public async Task A_certificate_alone_gets_no_token_for_a_secret_or_key_credential_of_its_party()
    {
        // Panama's secret credential, and its private_key_jwt one: a holder of a certificate naming PAN (Panama's
        // node's own, a national system's) who knows their client ids (every node sees them as sub) but not their proofs.
        var secret = await federation.Identity.IssueAsync(Role.State, "PAN");
        using var key = System.Security.Cryptography.RSA.Create(2048);
        var parameters = key.ExportParameters(false);
        var keyed = await federation.Identity.Credentials.IssueCredentialAsync(new IssueCredentialRequest
        {
            Role = Role.State, Country = "PAN", AuthenticationMethod = AuthenticationMethod.PrivateKeyJwt,
            PublicKeyJwk = $$"""{"kty":"RSA","use":"sig","kid":"pan-1","n":"{{Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(parameters.Modulus)}}","e":"{{Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(parameters.Exponent)}}"}""",
        });
        var resource = MirpsAuth.NodeAudience("PAN");
        using var panamaClient = Certificate("pan-client");
        using var panamaNode = Certificate("pan");

        foreach (var clientId in new[] { secret.ClientId, keyed.Credential.ClientId })
        foreach (var certificate in new[] { panamaClient, panamaNode })
        {
            var error = await Assert.ThrowsAsync<TokenRequestException>(() => CertificateTokenAsync(clientId, certificate, resource));
            Assert.Equal("invalid_client", error.Error);
        }
        // With its secret (and the certificate its tokens are bound to) the secret credential is served.
        using var http = new HttpClient(FederationTrust.CreateHandler(federation.Ca, panamaClient));
        using var tokens = new TokenClient(http, federation.Identity.TokenEndpoint, secret, MirpsAuth.ReadScope, resource);
        Assert.NotEmpty(await tokens.GetTokenAsync());
    }

    [Fact]
    public async Task A_peer_whose_certificate_names_another_State_than_configured_is_refused_and_nothing_is_pulled()
    {
        // Costa Rica's node, with Costa Rica's certificate and data of its own, poses as Panama's.
        await using var costaRica = await TestNode.StartAsync("CRI", federation.Identity, [.. TlsFederation.TlsArgs(federation.Certificates, "cri", federation.Ca), Samples.ShareWithAll]);
        await costaRica.Observations.SubmitObservationsAsync(Submit(Refugees(country: "CRI", period: "2015", value: 150)));
        var salvador = await federation.Identity.IssueAsync(Role.State, "SLV");
        var file = Path.Combine(federation.Folder, $"slv-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(salvador));
        await using var replica = await TestNode.StartAsync("SLV", federation.Identity,
        [
            .. TlsFederation.TlsArgs(federation.Certificates, "slv", federation.Ca),
            $"--Node:Credential={file}", $"--Node:Peers:0:Address={costaRica.Address}", "--Node:Peers:0:Country=PAN",
            "--Node:Peers:0:Origins:0=PAN", "--Node:Peers:0:Origins:1=CRI",
        ]);

        var deadline = DateTime.UtcNow.AddSeconds(20);
        Mirps.Sync.V1.GetSyncStatusResponse status;
        while (!(status = await new Mirps.Sync.V1.SyncService.SyncServiceClient(replica.Channel).GetSyncStatusAsync(new Mirps.Sync.V1.GetSyncStatusRequest()))
            .Peers.All(p => p.State == Mirps.Sync.V1.PeerState.Failing) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }
        Assert.Equal(2, status.Peers.Count);
        Assert.All(status.Peers, peer =>
        {
            Assert.Equal(Mirps.Sync.V1.PeerState.Failing, peer.State);
            Assert.Contains("certificate names CRI", peer.LastError);
            Assert.Contains("configures it as PAN", peer.LastError);
        });
        Assert.Equal(0, replica.CountRows());
        // `mirps sync status` shows it, as a failing pull.
        var cli = await CliAsync(["sync", "status", .. replica.CliArgs]);
        Assert.Contains("failing", cli.Output + cli.Error, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("certificate names CRI, but Node:Peers configures it as PAN", cli.Error);
    }

    [Fact]
    public async Task A_replica_refuses_to_pull_from_a_peer_whose_certificate_comes_from_another_CA()
    {
        // The peer is a working BLZ node with data, serving a certificate of the other CA. It trusts the
        // federation CA for its own clients, so it validates tokens from the identity server as usual.
        await using var origin = await TestNode.StartAsync("BLZ", federation.Identity,
            [
                .. TlsFederation.TlsArgs(federation.OtherCertificates, "blz", federation.Ca), Samples.ShareWithAll,
                // As a client (of the identity server) it presents Belize's certificate of the federation CA.
                $"--Node:ClientCertificateFile={DevelopmentCertificates.CertificateFile(federation.Certificates, DevelopmentCertificates.ClientName("BLZ"))}",
                $"--Node:ClientKeyFile={DevelopmentCertificates.KeyFile(federation.Certificates, DevelopmentCertificates.ClientName("BLZ"))}",
            ]);
        using (var trustingOther = GrpcChannel.ForAddress(origin.Address, new GrpcChannelOptions
        {
            HttpHandler = FederationTrust.CreateHandler(federation.OtherCa, origin.ClientCertificate),
            DisposeHttpClient = true,
            Credentials = ChannelCredentials.Create(ChannelCredentials.SecureSsl, origin.Tokens.ToCallCredentials()),
        }))
        {
            await new ObservationService.ObservationServiceClient(trustingOther).SubmitObservationsAsync(Submit(Refugees(period: "2015", value: 150)));
        }
        Assert.Equal(1, origin.CountRows());
        // The replica trusts the federation CA only (as the identity server's clients do), and gets its tokens fine.
        var panama = await federation.Identity.IssueAsync(Role.State, "PAN");
        var file = Path.Combine(federation.Folder, $"pan-{Guid.NewGuid():N}.json");
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(panama));
        await using var replica = await TestNode.StartAsync("PAN", federation.Identity,
        [
            .. TlsFederation.TlsArgs(federation.Certificates, "pan", federation.Ca),
            $"--Node:Credential={file}", $"--Node:Peers:0:Address={origin.Address}", "--Node:Peers:0:Origins:0=BLZ", "--Node:Peers:0:Country=BLZ",
        ]);

        var sync = new SyncService.SyncServiceClient(replica.Channel);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        PeerStatus peer;
        while ((peer = Assert.Single((await sync.GetSyncStatusAsync(new GetSyncStatusRequest())).Peers)).State != PeerState.Failing && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.Equal((origin.Address, "BLZ", PeerState.Failing), (peer.Address, peer.Origin, peer.State));
        // The handshake with the peer failed on its certificate chain (not the token request: the replica has its token).
        Assert.StartsWith("PEER_CERTIFICATE_INVALID", peer.LastError);
        Assert.Contains("RemoteCertificateChainErrors", peer.LastError);
        Assert.Equal(0, replica.CountRows());
        Assert.Equal(0L, peer.AppliedSequence);
    }

    [Fact]
    public async Task Devnet_tls_makes_the_certificates_and_runs_every_process_over_TLS()
    {
        var folder = Path.Combine(federation.Folder, $"devnet-{Guid.NewGuid():N}");

        var result = await CliAsync("devnet", "--once", "--tls", "--dir", folder).WaitAsync(TimeSpan.FromMinutes(8));

        Assert.True(result.Code == CliApp.Ok, result.Error + result.Output);
        Assert.Matches(@"identity server: issuer https://127\.0\.0\.1:\d+/", result.Output);
        foreach (var state in new[] { "BLZ", "CRI", "SLV", "GTM", "HND", "MEX", "PAN" })
        {
            Assert.Contains($"node {state} listening on https://127.0.0.1:", result.Output);
            Assert.True(File.Exists(DevelopmentCertificates.KeyFile(Path.Combine(folder, "certs"), state.ToLowerInvariant())));
        }
        Assert.Matches(@"Refugees\s*│\s*240 ", result.Output);
        Assert.DoesNotContain("http://", result.Output);
    }
}
