using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Mirps.Auth;
using Mirps.Identity.V1;
using MirpsExchange.FunctionalTests.Infrastructure;

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
            ValidAudience = MirpsAuth.NodeAudience,
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
    public async Task Repeated_refused_authentications_are_throttled_per_client_id_with_one_answer_for_known_and_unknown_ids()
    {
        await using var identity = await TestIdentity.StartAsync("--Identity:FailedAuthenticationsPerClient=3", "--Identity:FailedAuthenticationsPerAddress=100");
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
        await using var identity = await TestIdentity.StartAsync("--Identity:FailedAuthenticationsPerClient=100", "--Identity:FailedAuthenticationsPerAddress=4");
        var panama = await identity.IssueAsync(Role.State, "PAN");

        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(401, (await identity.RequestTokenAsync(new ClientCredential($"pan-state-{i:D10}", "guess"))).Status);
        }

        Assert.Equal(429, (await identity.RequestTokenAsync(panama)).Status);
    }
}
