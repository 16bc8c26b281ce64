using System.Security.Cryptography;
using Grpc.Core;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Mirps.Auth;
using Mirps.Identity.V1;
using Mirps.Observation.V1;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Node.Extensions;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>Every node call but health and reflection needs a valid token; who may do what is checked per call.</summary>
public class NodeAuthTests
{
    private static async Task<string> TokenAsync(TestIdentity identity, ClientCredential credential, string scope = "", string? resource = null)
    {
        var (status, body) = await identity.RequestTokenAsync(credential, scope, resource);
        Assert.Equal(200, status);
        return body.GetProperty("access_token").GetString()!;
    }

    private static Task<RpcException> RefusedAsync(TestNode node, string? token) =>
        Assert.ThrowsAsync<RpcException>(() => node.ObservationsWith(token).SubmitObservationsAsync(Submit(Refugees())).ResponseAsync);

    [Theory]
    [InlineData("Node:ListenAddress=0.0.0.0", "reachable from other machines: set Tls:CertificateFile")]
    [InlineData("Node:ListenAddress=not-an-address", "must be an IP address")]
    public async Task A_node_refuses_to_listen_beyond_loopback_without_TLS(string setting, string message)
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestNode.StartAsync("BLZ", null, $"--{setting}"));

        Assert.Contains("Node:ListenAddress", error.Message);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public async Task Calls_without_a_valid_token_are_unauthenticated_and_store_nothing()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        var identity = node.Identity;
        var valid = await TokenAsync(identity, await SharedIdentity.CredentialAsync("BLZ"));
        var parts = valid.Split('.');
        // The same claims signed by a key the identity server never published.
        using var stranger = RSA.Create(2048);
        var handler = new JsonWebTokenHandler();
        var claims = new JsonWebToken(valid).Claims.ToDictionary(c => c.Type, object (c) => c.Value);
        var forged = handler.CreateToken(new SecurityTokenDescriptor
        {
            Claims = claims,
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(stranger) { KeyId = new JsonWebToken(valid).Kid }, SecurityAlgorithms.RsaSha256),
        });
        var unsigned = Base64UrlEncoder.Encode("""{"alg":"none","typ":"at+jwt"}""") + "." + parts[1] + ".";
        var expired = handler.CreateToken(new SecurityTokenDescriptor
        {
            Claims = claims.Where(c => c.Key is not ("exp" or "iat" or "nbf")).ToDictionary(),
            IssuedAt = DateTime.UtcNow.AddHours(-2), NotBefore = DateTime.UtcNow.AddHours(-2), Expires = DateTime.UtcNow.AddHours(-1),
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(stranger), SecurityAlgorithms.RsaSha256),
        });

        foreach (var token in new[] { null, "garbage", forged, unsigned, expired, parts[0] + "." + parts[1] + ".AAAA" })
        {
            var error = await RefusedAsync(node, token);
            Assert.True(error.StatusCode == StatusCode.Unauthenticated, $"{token}: {error.Status}");
        }
        Assert.Equal(0, node.CountRows());
    }

    [Fact]
    public async Task A_token_that_expired_is_refused()
    {
        await using var identity = await TestIdentity.StartAsync("--Identity:AccessTokenLifetime=00:00:02");
        await using var node = await TestNode.StartAsync("BLZ", identity);
        var token = await TokenAsync(identity, await identity.IssueAsync(Role.State, "BLZ"));
        await node.ObservationsWith(token).SubmitObservationsAsync(Submit(Refugees(value: 1)));

        await Task.Delay(TimeSpan.FromSeconds(3));
        var error = await Assert.ThrowsAsync<RpcException>(() => node.ObservationsWith(token).SubmitObservationsAsync(Submit(Refugees(value: 2))).ResponseAsync);

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Equal(1, node.CountRows());
    }

    [Fact]
    public async Task A_token_for_another_audience_is_refused()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        var adminToken = await TokenAsync(node.Identity, node.Identity.Admin, MirpsAuth.AdminScope);

        var error = await RefusedAsync(node, adminToken);

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
    }

    [Fact]
    public async Task Another_States_token_cannot_submit_and_nothing_is_stored()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        var costaRica = await TokenAsync(node.Identity, await SharedIdentity.CredentialAsync("CRI"), resource: MirpsAuth.NodeAudience("BLZ"));
        var observation = Refugees();

        var error = await RpcAssert.ReasonAsync(() => node.ObservationsWith(costaRica).SubmitObservationsAsync(Submit(observation)).ResponseAsync,
            StatusCode.PermissionDenied, "COUNTRY_MISMATCH");
        await RpcAssert.ReasonAsync(() => node.ObservationsWith(costaRica).DeleteObservationsAsync(new DeleteObservationsRequest { Keys = { KeyOf(observation) } }).ResponseAsync,
            StatusCode.PermissionDenied, "COUNTRY_MISMATCH");

        Assert.Equal(0, node.CountRows());
    }

    [Fact]
    public async Task A_token_lacking_the_scope_is_refused_with_the_reason()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        var readOnly = await TokenAsync(node.Identity, await SharedIdentity.CredentialAsync("BLZ"), MirpsAuth.ReadScope);
        var secretariat = await TokenAsync(node.Identity, await SharedIdentity.CredentialAsync(""), resource: MirpsAuth.NodeAudience("BLZ"));
        await node.Observations.SubmitObservationsAsync(Submit(Refugees()));

        await RpcAssert.ReasonAsync(() => node.ObservationsWith(readOnly).SubmitObservationsAsync(Submit(Refugees(value: 2))).ResponseAsync,
            StatusCode.PermissionDenied, "MISSING_SCOPE");
        await RpcAssert.ReasonAsync(() => node.ObservationsWith(secretariat).SubmitObservationsAsync(Submit(Refugees(value: 2))).ResponseAsync,
            StatusCode.PermissionDenied, "MISSING_SCOPE");
        var read = await node.ObservationsWith(secretariat).GetObservationHistoryAsync(new GetObservationHistoryRequest { Key = KeyOf(Refugees()) });

        Assert.Equal(240, Assert.Single(read.Revisions).Observation.Value);
        Assert.Equal(1, node.CountRows());
    }

    [Fact]
    public async Task The_node_keeps_validating_cached_key_tokens_while_the_identity_server_is_stopped()
    {
        var identity = await TestIdentity.StartAsync();
        try
        {
            await using var node = await TestNode.StartAsync("BLZ", identity);
            var belize = await identity.IssueAsync(Role.State, "BLZ");
            var seen = await TokenAsync(identity, belize);
            await node.ObservationsWith(seen).SubmitObservationsAsync(Submit(Refugees(value: 1)));
            // A second token, never shown to the node: it can only be checked against the node's cached signing keys.
            var fresh = await TokenAsync(identity, belize);
            var validated = node.Services.GetRequiredService<CachedTokenAuthentication.TokenCache>().Cache;
            Assert.NotEqual(seen, fresh);
            Assert.Equal(new JsonWebToken(seen).Kid, new JsonWebToken(fresh).Kid);
            Assert.False(validated.TryGetValue(fresh, out _));

            await identity.StopAsync();
            using (var down = new HttpClient())
            {
                await Assert.ThrowsAsync<HttpRequestException>(() => down.GetAsync(identity.Issuer + ".well-known/jwks"));
            }
            var withFresh = await node.ObservationsWith(fresh).SubmitObservationsAsync(Submit(Refugees(value: 2)));
            var withSeen = await node.ObservationsWith(seen).SubmitObservationsAsync(Submit(Refugees(value: 3)));

            Assert.Equal(1, withFresh.Revised);
            Assert.True(validated.TryGetValue(fresh, out _), "the fresh token was validated, from the cached keys, while the identity server was down");
            Assert.Equal(1, withSeen.Revised); // and a token validated before stays remembered
            // What is accepted is a token signed by a cached key, not any token: a forged one is still refused.
            using var forger = RSA.Create(2048);
            var forged = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
            {
                Issuer = identity.Issuer,
                Claims = new JsonWebToken(fresh).Claims.Where(c => c.Type is not ("iss" or "exp" or "nbf" or "iat")).GroupBy(c => c.Type)
                    .ToDictionary(g => g.Key, g => g.Count() == 1 ? (object)g.Single().Value : g.Select(c => c.Value).ToArray()),
                Expires = DateTime.UtcNow.AddMinutes(5),
                TokenType = new JsonWebToken(fresh).Typ,
                SigningCredentials = new SigningCredentials(new RsaSecurityKey(forger) { KeyId = new JsonWebToken(fresh).Kid }, SecurityAlgorithms.RsaSha256),
            });
            Assert.Equal(StatusCode.Unauthenticated, (await RefusedAsync(node, forged)).StatusCode);
        }
        finally
        {
            await identity.DisposeAsync();
        }
    }

    [Fact]
    public async Task After_a_key_rollover_the_node_accepts_tokens_signed_by_the_new_key_and_the_old_key_is_still_published()
    {
        await using var identity = await TestIdentity.StartAsync();
        await using var node = await TestNode.StartAsync("BLZ", identity);
        var belize = await identity.IssueAsync(Role.State, "BLZ");
        var before = await TokenAsync(identity, belize);
        await node.ObservationsWith(before).SubmitObservationsAsync(Submit(Refugees(value: 1)));

        // A restart after the rollover period makes a new signing key; the previous one stays published.
        await using var restarted = await identity.RestartAsync("--Identity:SigningKeyRollover=00:00:00.001");
        var after = await TokenAsync(restarted, belize);
        var jwks = new JsonWebKeySet(await restarted.Http.GetStringAsync(restarted.Issuer + ".well-known/jwks"));

        Assert.NotEqual(new JsonWebToken(before).Kid, new JsonWebToken(after).Kid);
        Assert.Contains(jwks.Keys, k => k.Kid == new JsonWebToken(before).Kid);
        Assert.Contains(jwks.Keys, k => k.Kid == new JsonWebToken(after).Kid);
        // The node has only the old key cached: the new kid triggers a refresh (the first call may fail while it happens).
        var response = await RetryAsync(() => node.ObservationsWith(after).SubmitObservationsAsync(Submit(Refugees(value: 2))).ResponseAsync);
        Assert.Equal(1, response.Revised);
        Assert.Equal(1, (await node.ObservationsWith(before).SubmitObservationsAsync(Submit(Refugees(value: 3)))).Revised);
    }

    [Fact]
    public async Task Health_and_reflection_need_no_token()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        using var anonymous = node.ChannelWith(null);

        var health = await new Grpc.Health.V1.Health.HealthClient(anonymous).CheckAsync(new Grpc.Health.V1.HealthCheckRequest());
        var catalog = await Assert.ThrowsAsync<RpcException>(() => new Mirps.Catalog.V1.CatalogService.CatalogServiceClient(anonymous).GetCatalogAsync(new Mirps.Catalog.V1.GetCatalogRequest()).ResponseAsync);

        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        Assert.Equal(StatusCode.Unauthenticated, catalog.StatusCode);
    }

    private static async Task<T> RetryAsync<T>(Func<Task<T>> call)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated && attempt < 10)
            {
                await Task.Delay(300);
            }
        }
    }

    [Theory]
    [InlineData("http://identity.mirps.example/")]
    [InlineData("http://10.0.0.5:5000/")]
    [InlineData("http://localhost.mirps.example/")]
    public async Task A_node_refuses_to_start_with_a_plain_http_issuer_off_loopback(string issuer)
    {
        var folder = TempFolder.Create();
        try
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => NodeApplication.BuildAsync(
                ["--Node:Country=BLZ", $"--Node:DataDirectory={Path.Combine(folder, "data")}", "--Node:Port=0", $"--Node:Issuer={issuer}", $"--contentRoot={folder}"]));

            Assert.Contains("Node:Issuer", error.Message);
            Assert.Contains("https", error.Message);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    [Theory]
    [InlineData("https://identity.mirps.example/")]
    [InlineData("http://127.0.0.1:5000/")]
    [InlineData("http://[::1]:5000/")]
    [InlineData("http://localhost:5000/")]
    public void Https_issuers_and_http_issuers_on_loopback_are_accepted(string issuer) =>
        Assert.Equal(new Uri(issuer), AuthenticationExtensions.ParseIssuer(issuer));

    [Fact]
    public async Task The_token_cache_is_the_nodes_own_and_leaves_the_shared_memory_cache_usable()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        await node.Observations.SubmitObservationsAsync(Submit(Refugees()));

        var tokens = node.Services.GetRequiredService<CachedTokenAuthentication.TokenCache>();
        var shared = node.Services.GetService<IMemoryCache>() ?? new ServiceCollection().AddMemoryCache().BuildServiceProvider().GetRequiredService<IMemoryCache>();

        Assert.Equal(1, tokens.Cache.Count); // the node's own token, remembered after the call
        Assert.NotSame(shared, tokens.Cache);
        // Another component's entry without a size: refused with InvalidOperationException by a cache that has a size limit.
        shared.Set("another-component", 42);
        Assert.Equal(42, shared.Get<int>("another-component"));
    }
}
