using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Mirps.Auth;
using Mirps.Identity.V1;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Identity.Credentials;
using MirpsExchange.Identity.Extensions;

namespace MirpsExchange.FunctionalTests;

public class IdentityTests
{
    [Fact]
    public async Task A_state_token_carries_country_role_scopes_audience_and_a_15_minute_lifetime_verified_independently_from_the_JWKS()
    {
        await using var identity = await TestIdentity.StartAsync();
        var panama = await identity.IssueAsync(Role.State, "PAN");

        var (status, body) = await identity.RequestTokenAsync(panama, $"{MirpsAuth.ReadScope} {MirpsAuth.SubmitScope}");

        Assert.Equal(200, status);
        var token = body.GetProperty("access_token").GetString()!;
        Assert.InRange(body.GetProperty("expires_in").GetInt32(), 14 * 60, 15 * 60);
        // Independent path: Microsoft.IdentityModel validates against the JWKS the server publishes.
        var jwks = new JsonWebKeySet(await identity.Http.GetStringAsync(identity.Issuer + ".well-known/jwks"));
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuer = identity.Issuer,
            ValidAudience = MirpsAuth.NodeAudience("PAN"), // a State's token is for its own node unless it names another
            IssuerSigningKeys = jwks.GetSigningKeys(),
            ValidTypes = ["at+jwt"],
        });
        Assert.True(result.IsValid, result.Exception?.Message);
        var jwt = (JsonWebToken)result.SecurityToken;
        Assert.Equal("PAN", jwt.GetClaim(MirpsAuth.CountryClaim).Value);
        Assert.Equal(MirpsAuth.StateRole, jwt.GetClaim(MirpsAuth.RoleClaim).Value);
        Assert.Equal(panama.ClientId, jwt.Subject);
        Assert.Equal([MirpsAuth.ReadScope, MirpsAuth.SubmitScope], jwt.GetClaim("scope").Value.Split(' ').Order());
        Assert.Equal("RS256", jwt.Alg);
        Assert.Equal(TimeSpan.FromMinutes(15), jwt.ValidTo - jwt.IssuedAt);
    }

    [Fact]
    public async Task A_secretariat_token_has_no_country_and_only_the_read_scope()
    {
        await using var identity = await TestIdentity.StartAsync();
        var secretariat = await identity.IssueAsync(Role.Secretariat);

        var (status, body) = await identity.RequestTokenAsync(secretariat);
        var refused = await identity.RequestTokenAsync(secretariat, MirpsAuth.SubmitScope);

        Assert.Equal(200, status);
        var jwt = new JsonWebToken(body.GetProperty("access_token").GetString());
        Assert.False(jwt.TryGetClaim(MirpsAuth.CountryClaim, out _));
        Assert.Equal(MirpsAuth.ReadScope, jwt.GetClaim("scope").Value);
        Assert.Equal(400, refused.Status);
    }

    [Fact]
    public async Task A_wrong_secret_and_an_unknown_client_get_the_same_answer()
    {
        await using var identity = await TestIdentity.StartAsync();
        var belize = await identity.IssueAsync(Role.State, "BLZ");

        var wrong = await identity.RequestTokenAsync(belize with { ClientSecret = "not-the-secret" });
        var unknown = await identity.RequestTokenAsync(new ClientCredential("blz-state-0000000000", "whatever"));

        Assert.Equal(401, wrong.Status);
        Assert.Equal("invalid_client", wrong.Body.GetProperty("error").GetString());
        Assert.Equal(wrong.Status, unknown.Status);
        Assert.Equal(wrong.Body.GetProperty("error").GetString(), unknown.Body.GetProperty("error").GetString());
        Assert.Equal(wrong.Body.GetProperty("error_description").GetString(), unknown.Body.GetProperty("error_description").GetString());
    }

    [Fact]
    public async Task A_revoked_credential_gets_no_new_token_and_is_listed_as_revoked()
    {
        await using var identity = await TestIdentity.StartAsync();
        var honduras = await identity.IssueAsync(Role.State, "HND");
        Assert.Equal(200, (await identity.RequestTokenAsync(honduras)).Status);

        var revoked = await identity.Credentials.RevokeCredentialAsync(new RevokeCredentialRequest { ClientId = honduras.ClientId, Reason = "laptop stolen" });
        var after = await identity.RequestTokenAsync(honduras);
        var active = await identity.Credentials.ListCredentialsAsync(new ListCredentialsRequest());
        var all = await identity.Credentials.ListCredentialsAsync(new ListCredentialsRequest { IncludeRevoked = true });

        Assert.NotNull(revoked.Credential.RevokeTime);
        Assert.Equal(401, after.Status);
        Assert.DoesNotContain(active.Credentials, c => c.ClientId == honduras.ClientId);
        Assert.Contains(all.Credentials, c => c.ClientId == honduras.ClientId && c.RevokeTime != null);
    }

    [Fact]
    public async Task A_rotated_secret_replaces_the_old_one_at_once()
    {
        await using var identity = await TestIdentity.StartAsync();
        var mexico = await identity.IssueAsync(Role.State, "MEX");

        var rotated = await identity.Credentials.RotateSecretAsync(new RotateSecretRequest { ClientId = mexico.ClientId });

        Assert.Equal(401, (await identity.RequestTokenAsync(mexico)).Status);
        Assert.Equal(200, (await identity.RequestTokenAsync(mexico with { ClientSecret = rotated.ClientSecret })).Status);
        Assert.NotEqual(mexico.ClientSecret, rotated.ClientSecret);
    }

    [Fact]
    public async Task A_rotation_with_a_grace_period_accepts_both_secrets_until_it_ends()
    {
        await using var identity = await TestIdentity.StartAsync();
        var guatemala = await identity.IssueAsync(Role.State, "GTM");

        var rotated = await identity.Credentials.RotateSecretAsync(new RotateSecretRequest { ClientId = guatemala.ClientId, GracePeriod = Duration.FromTimeSpan(TimeSpan.FromHours(1)) });

        Assert.Equal(200, (await identity.RequestTokenAsync(guatemala)).Status);
        Assert.Equal(200, (await identity.RequestTokenAsync(guatemala with { ClientSecret = rotated.ClientSecret })).Status);
        Assert.InRange(rotated.PreviousSecretExpireTime.ToDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(59), DateTimeOffset.UtcNow.AddMinutes(61));

        // A second rotation without grace ends the first one's grace too.
        var again = await identity.Credentials.RotateSecretAsync(new RotateSecretRequest { ClientId = guatemala.ClientId });
        Assert.Equal(401, (await identity.RequestTokenAsync(guatemala)).Status);
        Assert.Equal(401, (await identity.RequestTokenAsync(guatemala with { ClientSecret = rotated.ClientSecret })).Status);
        Assert.Equal(200, (await identity.RequestTokenAsync(guatemala with { ClientSecret = again.ClientSecret })).Status);
    }

    [Fact]
    public async Task The_admin_API_refuses_calls_without_a_token_and_tokens_without_the_admin_scope()
    {
        await using var identity = await TestIdentity.StartAsync();
        var costaRica = await identity.IssueAsync(Role.State, "CRI");
        var stateToken = (await identity.RequestTokenAsync(costaRica)).Body.GetProperty("access_token").GetString();

        var anonymous = await Assert.ThrowsAsync<RpcException>(() => identity.CredentialsWith(null).ListCredentialsAsync(new ListCredentialsRequest()).ResponseAsync);
        var garbage = await Assert.ThrowsAsync<RpcException>(() => identity.CredentialsWith("not.a.token").ListCredentialsAsync(new ListCredentialsRequest()).ResponseAsync);
        var notAdmin = await Assert.ThrowsAsync<RpcException>(() => identity.CredentialsWith(stateToken).IssueCredentialAsync(new IssueCredentialRequest
        {
            Role = Role.Admin, AuthenticationMethod = AuthenticationMethod.ClientSecret,
        }).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, garbage.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, notAdmin.StatusCode); // a node token's audience is not the identity server
        var all = await identity.Credentials.ListCredentialsAsync(new ListCredentialsRequest());
        Assert.Equal(2, all.Credentials.Count); // the bootstrap admin and Costa Rica: nothing was issued
    }

    [Fact]
    public async Task Bad_credential_requests_are_refused_by_field()
    {
        await using var identity = await TestIdentity.StartAsync();

        await RpcAssert.InvalidArgumentAsync(() => identity.Credentials.IssueCredentialAsync(new IssueCredentialRequest
        {
            Role = Role.State, Country = "USA", AuthenticationMethod = AuthenticationMethod.ClientSecret,
        }).ResponseAsync, "country");
        await RpcAssert.InvalidArgumentAsync(() => identity.Credentials.IssueCredentialAsync(new IssueCredentialRequest
        {
            Country = "PAN", AuthenticationMethod = AuthenticationMethod.ClientSecret,
        }).ResponseAsync, "role");
        await RpcAssert.InvalidArgumentAsync(() => identity.Credentials.IssueCredentialAsync(new IssueCredentialRequest
        {
            Role = Role.Secretariat, Country = "PAN", AuthenticationMethod = AuthenticationMethod.ClientSecret,
        }).ResponseAsync, "country");
        await RpcAssert.ReasonAsync(() => identity.Credentials.RevokeCredentialAsync(new RevokeCredentialRequest { ClientId = "nobody" }).ResponseAsync,
            StatusCode.NotFound, "CREDENTIAL_NOT_FOUND");
        await RpcAssert.InvalidArgumentAsync(() => identity.Credentials.IssueCredentialAsync(new IssueCredentialRequest
        {
            Role = Role.State, Country = "PAN", AuthenticationMethod = AuthenticationMethod.ClientSecret, CertificateSubject = "urn:mirps:PAN",
        }).ResponseAsync, "certificate_subject");
    }

    [Fact]
    public async Task Without_TLS_a_tls_client_auth_credential_is_refused_as_it_could_never_authenticate()
    {
        await using var identity = await TestIdentity.StartAsync();

        var violation = await RpcAssert.InvalidArgumentAsync(() => identity.Credentials.IssueCredentialAsync(new IssueCredentialRequest
        {
            Role = Role.State, Country = "PAN", AuthenticationMethod = AuthenticationMethod.TlsClientAuth, CertificateSubject = "urn:mirps:PAN",
        }).ResponseAsync, "authentication_method");
        Assert.Contains("needs the identity server to serve TLS", violation.Description);
        var all = await identity.Credentials.ListCredentialsAsync(new ListCredentialsRequest());
        Assert.Single(all.Credentials); // the bootstrap admin: nothing was issued
        Assert.DoesNotContain((await identity.Credentials.ListAuditEventsAsync(new ListAuditEventsRequest())).Events, e => e.Detail.Contains("tls_client_auth"));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task The_bootstrap_credential_file_is_readable_only_by_its_owner_and_is_created_once()
    {
        await using var identity = await TestIdentity.StartAsync();
        var path = Path.Combine(identity.DataDirectory, MirpsExchange.Identity.Credentials.AdminBootstrap.FileName);

        var mode = File.GetUnixFileMode(path);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
        Assert.All(Directory.GetFiles(Path.Combine(identity.DataDirectory, "keys")), key =>
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key)));
        var admins = await identity.Credentials.ListCredentialsAsync(new ListCredentialsRequest());
        Assert.Equal(identity.Admin.ClientId, Assert.Single(admins.Credentials).ClientId);
        Assert.Equal(Role.Admin, admins.Credentials[0].Role);
    }

    [Fact]
    public async Task Every_admin_action_is_in_the_audit_log_with_who_and_what()
    {
        await using var identity = await TestIdentity.StartAsync();
        var elSalvador = await identity.IssueAsync(Role.State, "SLV");
        await identity.Credentials.RotateSecretAsync(new RotateSecretRequest { ClientId = elSalvador.ClientId });
        await identity.Credentials.RevokeCredentialAsync(new RevokeCredentialRequest { ClientId = elSalvador.ClientId, Reason = "replaced" });

        var audit = await identity.Credentials.ListAuditEventsAsync(new ListAuditEventsRequest());

        Assert.Equal(["RevokeCredential", "RotateSecret", "IssueCredential", "IssueCredential"], audit.Events.Select(e => e.Action));
        Assert.All(audit.Events.Take(3), e => Assert.Equal((identity.Admin.ClientId, elSalvador.ClientId), (e.Actor, e.ClientId)));
        Assert.Equal("bootstrap", audit.Events[3].Actor);
        Assert.Contains("replaced", audit.Events[0].Detail);
        Assert.DoesNotContain(audit.Events, e => e.Detail.Contains(elSalvador.ClientSecret));
        Assert.True(audit.Events[0].Time.ToDateTimeOffset() >= audit.Events[2].Time.ToDateTimeOffset());
    }

    [Fact]
    public async Task The_token_client_reuses_one_token_across_many_calls()
    {
        await using var identity = await TestIdentity.StartAsync();
        var belize = await identity.IssueAsync(Role.State, "BLZ");
        using var tokens = new TokenClient(identity.Http, identity.TokenEndpoint, belize, MirpsAuth.ReadScope);

        var all = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => tokens.GetTokenAsync().AsTask()));

        Assert.Single(all.Distinct());
        Assert.Equal(1, tokens.TokensRequested);
        var refused = new TokenClient(identity.Http, identity.TokenEndpoint, belize with { ClientSecret = "wrong" }, MirpsAuth.ReadScope);
        var error = await Assert.ThrowsAsync<TokenRequestException>(() => refused.GetTokenAsync().AsTask());
        Assert.Equal("invalid_client", error.Error);
    }

    [Fact]
    public async Task Repeated_refused_authentications_are_throttled_per_client_id_and_address_with_one_answer_for_known_and_unknown_ids()
    {
        await using var identity = await TestIdentity.StartAsync("--Identity:FailedAuthenticationsPerClientAndAddress=3", "--Identity:FailedAuthenticationsPerAddress=100");
        var belize = await identity.IssueAsync(Role.State, "BLZ");
        var unknown = new ClientCredential("blz-state-ffffffffff", "guess");

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(401, (await identity.RequestTokenAsync(belize with { ClientSecret = $"guess-{i}" })).Status);
            Assert.Equal(401, (await identity.RequestTokenAsync(unknown)).Status);
        }
        var known = await identity.RequestTokenAsync(belize); // the right secret, but the id is throttled
        var stranger = await identity.RequestTokenAsync(unknown);
        var other = await identity.IssueAsync(Role.State, "CRI");

        Assert.Equal(429, known.Status);
        Assert.Equal(429, stranger.Status);
        Assert.Equal(known.Body.ToString(), stranger.Body.ToString());
        Assert.Equal(200, (await identity.RequestTokenAsync(other)).Status);
    }

    [Fact]
    public async Task Refused_authentications_are_throttled_per_remote_address()
    {
        await using var identity = await TestIdentity.StartAsync("--Identity:FailedAuthenticationsPerClientAndAddress=100", "--Identity:FailedAuthenticationsPerAddress=4");
        var panama = await identity.IssueAsync(Role.State, "PAN");

        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(401, (await identity.RequestTokenAsync(new ClientCredential($"pan-state-{i:D10}", "guess"))).Status);
        }

        Assert.Equal(429, (await identity.RequestTokenAsync(panama)).Status);
    }

    /// <summary>A token request to <paramref name="path"/> (relative to the issuer), with the secret in the form or in an HTTP Basic header.</summary>
    internal static async Task<int> RequestTokenAtAsync(TestIdentity identity, string path, ClientCredential credential, bool basic, HttpClient? http = null)
    {
        var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials" };
        using var request = new HttpRequestMessage(HttpMethod.Post, identity.Issuer + path);
        if (basic)
        {
            // RFC 6749 2.3.1: form-urlencode id and secret, then Base64 "id:secret".
            var pair = $"{Uri.EscapeDataString(credential.ClientId)}:{Uri.EscapeDataString(credential.ClientSecret)}";
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(pair)));
        }
        else
        {
            form["client_id"] = credential.ClientId;
            form["client_secret"] = credential.ClientSecret;
        }
        request.Content = new FormUrlEncodedContent(form);
        using var response = await (http ?? identity.Http).SendAsync(request);
        return (int)response.StatusCode;
    }

    /// <summary>An HTTP client whose connections leave from another loopback address (127.0.0.0/8 is all loopback): a second remote address.</summary>
    internal static HttpClient ClientFrom(string address) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (context, cancellationToken) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(address), 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    });

    [Fact]
    public async Task The_throttle_cannot_be_bypassed_with_a_trailing_slash_another_casing_or_HTTP_Basic_authentication()
    {
        await using var identity = await TestIdentity.StartAsync("--Identity:FailedAuthenticationsPerClientAndAddress=3", "--Identity:FailedAuthenticationsPerAddress=100");
        var belize = await identity.IssueAsync(Role.State, "BLZ");
        var panama = await identity.IssueAsync(Role.State, "PAN");
        // Every spelling is served as the token endpoint while nothing is throttled.
        Assert.Equal(200, await RequestTokenAtAsync(identity, "connect/token/", belize, basic: false));
        Assert.Equal(200, await RequestTokenAtAsync(identity, "CONNECT/Token", belize, basic: false));
        Assert.Equal(200, await RequestTokenAtAsync(identity, "connect/token", belize, basic: true));

        // Failures sent through HTTP Basic count, and throttle form requests too.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(401, await RequestTokenAtAsync(identity, "connect/token", belize with { ClientSecret = $"guess-{i}" }, basic: true));
        }
        // Failures sent in the form throttle Basic requests and every spelling of the path.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(401, await RequestTokenAtAsync(identity, "connect/token/", panama with { ClientSecret = $"guess-{i}" }, basic: false));
        }

        foreach (var credential in new[] { belize, panama })
        {
            foreach (var path in new[] { "connect/token", "connect/token/", "CONNECT/Token" })
            {
                Assert.Equal(429, await RequestTokenAtAsync(identity, path, credential, basic: false));
                Assert.Equal(429, await RequestTokenAtAsync(identity, path, credential, basic: true));
            }
        }
        Assert.Equal(200, (await identity.RequestTokenAsync(await identity.IssueAsync(Role.State, "CRI"))).Status);
    }

    [Fact]
    public async Task Failing_with_a_States_client_id_from_another_address_locks_out_only_that_address()
    {
        // Default limits but per address, so that only the per-client counting is under test.
        await using var identity = await TestIdentity.StartAsync("--Identity:FailedAuthenticationsPerAddress=1000");
        var belize = await identity.IssueAsync(Role.State, "BLZ");
        using var attacker = ClientFrom("127.0.0.2");

        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(401, await RequestTokenAtAsync(identity, "connect/token", belize with { ClientSecret = $"guess-{i}" }, basic: false, attacker));
        }

        Assert.Equal(429, await RequestTokenAtAsync(identity, "connect/token", belize, basic: false, attacker));
        Assert.Equal(200, await RequestTokenAtAsync(identity, "connect/token", belize, basic: false));
    }

    [Fact]
    public async Task The_admin_API_refuses_a_valid_identity_server_token_without_the_admin_scope_with_PERMISSION_DENIED()
    {
        await using var identity = await TestIdentity.StartAsync();
        // A token the server itself could have signed (its own key, issuer and audience) but without the
        // admin scope: no credential gets one today, so it is signed here with the server's key file.
        var keyFile = Directory.GetFiles(Path.Combine(identity.DataDirectory, "keys"), "signing-*.pem").Order(StringComparer.Ordinal).Last();
        using var rsa = System.Security.Cryptography.RSA.Create();
        rsa.ImportFromPem(await File.ReadAllTextAsync(keyFile));
        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = identity.Issuer,
            Audience = MirpsAuth.IdentityAudience,
            Claims = new Dictionary<string, object> { ["sub"] = "secretariat-0000000000", ["scope"] = MirpsAuth.ReadScope, ["role"] = MirpsAuth.SecretariatRole },
            Expires = DateTime.UtcNow.AddMinutes(5),
            TokenType = "at+jwt",
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = Path.GetFileNameWithoutExtension(keyFile) }, SecurityAlgorithms.RsaSha256),
        });
        var client = identity.CredentialsWith(token);

        await RpcAssert.ReasonAsync(() => client.ListCredentialsAsync(new ListCredentialsRequest()).ResponseAsync, StatusCode.PermissionDenied, "MISSING_SCOPE");
        await RpcAssert.ReasonAsync(() => client.IssueCredentialAsync(new IssueCredentialRequest
        {
            Role = Role.Admin, AuthenticationMethod = AuthenticationMethod.ClientSecret,
        }).ResponseAsync, StatusCode.PermissionDenied, "MISSING_SCOPE");

        Assert.Single((await identity.Credentials.ListCredentialsAsync(new ListCredentialsRequest())).Credentials); // the bootstrap admin only
    }

    [Fact]
    public async Task Concurrent_rotations_of_one_credential_either_succeed_or_are_ABORTED_and_the_last_secret_works()
    {
        await using var identity = await TestIdentity.StartAsync();
        var mexico = await identity.IssueAsync(Role.State, "MEX");

        var attempts = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            try
            {
                return ((RotateSecretResponse?)await identity.Credentials.RotateSecretAsync(new RotateSecretRequest { ClientId = mexico.ClientId }), (RpcException?)null);
            }
            catch (RpcException e)
            {
                return (null, e);
            }
        }));

        Assert.All(attempts.Where(a => a.Item2 is not null), a =>
        {
            Assert.Equal(StatusCode.Aborted, a.Item2!.StatusCode);
            Assert.Equal("CONCURRENT_CHANGE", a.Item2.GetRpcStatus()?.GetDetail<Google.Rpc.ErrorInfo>()?.Reason);
        });
        var rotated = attempts.Where(a => a.Item1 is not null).Select(a => a.Item1!.ClientSecret).ToList();
        Assert.NotEmpty(rotated);
        var statuses = new List<int>();
        foreach (var secret in rotated)
        {
            statuses.Add((await identity.RequestTokenAsync(mexico with { ClientSecret = secret })).Status);
        }
        Assert.Single(statuses, status => status == 200); // the rotation that committed last
    }

    [Fact]
    public async Task An_RSA_public_key_shorter_than_2048_bits_is_refused()
    {
        await using var identity = await TestIdentity.StartAsync();
        using var weak = System.Security.Cryptography.RSA.Create(1024);
        var p = weak.ExportParameters(false);

        var violation = await RpcAssert.InvalidArgumentAsync(() => identity.Credentials.IssueCredentialAsync(new IssueCredentialRequest
        {
            Role = Role.State, Country = "PAN", AuthenticationMethod = AuthenticationMethod.PrivateKeyJwt,
            PublicKeyJwk = $$"""{"kty":"RSA","kid":"weak","n":"{{Base64UrlEncoder.Encode(p.Modulus)}}","e":"{{Base64UrlEncoder.Encode(p.Exponent)}}"}""",
        }).ResponseAsync, "public_key_jwk");

        Assert.Contains("2048", violation.Description);
        Assert.Single((await identity.Credentials.ListCredentialsAsync(new ListCredentialsRequest())).Credentials);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task The_data_directory_and_the_store_are_owner_only()
    {
        await using var identity = await TestIdentity.StartAsync();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(identity.DataDirectory));
        var store = Directory.GetFiles(identity.DataDirectory, "identity.db*");
        Assert.Contains(Path.Combine(identity.DataDirectory, "identity.db"), store);
        Assert.All(store, file => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file)));
    }

    [Fact]
    public void A_credential_printed_or_interpolated_never_shows_its_secret()
    {
        var credential = new ClientCredential("blz-state-0123456789", "s3cret-value-never-printed");

        Assert.DoesNotContain(credential.ClientSecret, credential.ToString());
        Assert.DoesNotContain(credential.ClientSecret, $"{credential}");
        Assert.Contains(credential.ClientId, credential.ToString());
        Assert.DoesNotContain("s3cret", new MirpsExchange.Identity.Credentials.AdminCredentialFile("admin-1", "s3cret").ToString());
    }

    /// <summary>Builds (not starts) an identity server on <paramref name="folder"/> whose logs, at every level, go to <paramref name="logs"/>.</summary>
    private static Task<WebApplication> BuildAsync(string folder, CapturedLogs? logs = null) => IdentityApplication.BuildAsync(
        [$"--Identity:DataDirectory={Path.Combine(folder, "data")}", "--Identity:Port=0", "--Identity:GrpcPort=0", $"--contentRoot={folder}", "--Logging:LogLevel:Default=Warning"],
        builder =>
        {
            if (logs is not null)
            {
                builder.Logging.AddProvider(logs);
                builder.Logging.AddFilter<CapturedLogs>(null, LogLevel.Trace);
            }
        });

    [Fact]
    public async Task The_bootstrap_log_and_refused_authentication_logs_never_contain_a_secret_even_at_trace_level()
    {
        var folder = TempFolder.Create();
        var logs = new CapturedLogs();
        try
        {
            await using var app = await BuildAsync(folder, logs);
            await app.StartAsync();
            var issuer = app.ListeningAddresses()[0].TrimEnd('/') + "/";
            var admin = ClientCredential.Load(Path.Combine(folder, "data", AdminBootstrap.FileName));
            using var http = new HttpClient();
            var guesses = new[] { "first-guessed-secret-1", "second-guessed-secret-2" };

            // A secret that is wrong in the form, one wrong in a Basic header, and the right secret asking for an ungranted scope.
            using var form = await http.PostAsync(issuer + MirpsAuth.TokenEndpointPath, new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials", ["client_id"] = admin.ClientId, ["client_secret"] = guesses[0],
            }));
            using var basic = new HttpRequestMessage(HttpMethod.Post, issuer + MirpsAuth.TokenEndpointPath)
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }),
            };
            basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{admin.ClientId}:{guesses[1]}")));
            using var basicResponse = await http.SendAsync(basic);
            using var scope = await http.PostAsync(issuer + MirpsAuth.TokenEndpointPath, new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials", ["client_id"] = admin.ClientId, ["client_secret"] = admin.ClientSecret, ["scope"] = MirpsAuth.SubmitScope,
            }));
            await app.StopAsync();

            Assert.Equal((401, 401, 400), ((int)form.StatusCode, (int)basicResponse.StatusCode, (int)scope.StatusCode));
            var bootstrap = Assert.Single(logs.Entries, e => e.EventName == "AdminBootstrapped");
            Assert.Contains(admin.ClientId, bootstrap.Message);
            Assert.Contains(AdminBootstrap.FileName, bootstrap.Message);
            Assert.Equal(2, logs.Entries.Count(e => e.EventName == "ClientAuthenticationRefused" && e.Message.Contains(admin.ClientId)));
            Assert.All(logs.Entries, e =>
            {
                Assert.DoesNotContain(admin.ClientSecret, e.Message);
                Assert.All(guesses, guess => Assert.DoesNotContain(guess, e.Message));
            });
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            TempFolder.Delete(folder);
        }
    }

    [Fact]
    public async Task A_bootstrap_that_cannot_write_the_credential_file_issues_nothing_and_the_next_start_recovers()
    {
        var folder = TempFolder.Create();
        try
        {
            // Something in the way of the credential file: the first start fails before any admin exists.
            var blocker = Directory.CreateDirectory(Path.Combine(folder, "data", AdminBootstrap.FileName));
            await Assert.ThrowsAnyAsync<IOException>(() => BuildAsync(folder));
            SqliteConnection.ClearAllPools();
            blocker.Delete();

            await using var app = await BuildAsync(folder);
            await app.StartAsync();
            var admin = ClientCredential.Load(Path.Combine(folder, "data", AdminBootstrap.FileName));
            using var http = new HttpClient();
            using var tokens = new TokenClient(http, new Uri(app.ListeningAddresses()[0].TrimEnd('/') + "/" + MirpsAuth.TokenEndpointPath), admin, MirpsAuth.AdminScope);

            Assert.False(string.IsNullOrEmpty(await tokens.GetTokenAsync()));
            Assert.Empty(Directory.GetFiles(Path.Combine(folder, "data"), "*.tmp"));
            await app.StopAsync();
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            TempFolder.Delete(folder);
        }
    }

    /// <summary>Every log entry of a server, formatted, with its exception.</summary>
    private sealed class CapturedLogs : ILoggerProvider
    {
        public System.Collections.Concurrent.ConcurrentQueue<(string EventName, string Message)> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturedLogs owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Entries.Enqueue((eventId.Name ?? "", $"{category}: {formatter(state, exception)} {state} {exception}"));
        }
    }

    [Theory]
    [InlineData("""{"access_token":"t","token_type":"Bearer","expires_in":0}""")]
    [InlineData("""{"access_token":"t","token_type":"Bearer"}""")]
    public async Task The_token_client_reuses_a_token_whose_lifetime_the_server_did_not_give(string response)
    {
        var endpoint = new CountingTokenEndpoint(response);
        using var http = new HttpClient(endpoint);
        using var tokens = new TokenClient(http, new Uri("http://127.0.0.1:9/connect/token"), new ClientCredential("c", "s"), MirpsAuth.ReadScope);

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("t", await tokens.GetTokenAsync());
        }

        Assert.Equal(1, endpoint.Requests);
    }

    [Fact]
    public async Task A_refused_token_is_dropped_at_most_once_a_minute_so_a_hostile_peer_cannot_spend_the_token_allowance()
    {
        var endpoint = new CountingTokenEndpoint("""{"access_token":"t","token_type":"Bearer","expires_in":900}""");
        using var http = new HttpClient(endpoint);
        var clock = new ManualClock();
        using var tokens = new TokenClient(http, new Uri("http://127.0.0.1:9/connect/token"), new ClientCredential("c", "s"), MirpsAuth.ReadScope, clock: clock);

        // A peer answers UNAUTHENTICATED to every call: the caller drops the token after each refusal.
        for (var i = 0; i < 30; i++)
        {
            await tokens.GetTokenAsync();
            tokens.Refused();
            clock.Advance(TimeSpan.FromSeconds(1));
        }
        Assert.Equal(2, endpoint.Requests); // the first, and one new token after the first refusal
        clock.Advance(TokenClient.MinInvalidationInterval);
        await tokens.GetTokenAsync();
        tokens.Refused();
        await tokens.GetTokenAsync();
        Assert.Equal(3, endpoint.Requests);
    }

    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }

    /// <summary>A token endpoint stand-in that answers every request with one JSON body and counts them.</summary>
    private sealed class CountingTokenEndpoint(string json) : HttpMessageHandler
    {
        public int Requests { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests++;
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(json, Encoding.UTF8, "application/json") });
        }
    }
}
