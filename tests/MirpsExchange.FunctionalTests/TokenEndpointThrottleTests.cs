using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Mirps.Auth;
using Mirps.Identity.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Identity.Tokens;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// What a member or an outsider can make the identity server's token endpoint do: lock a client out,
/// fill its memory, or burn its CPU. Each attack runs against a real server on loopback, from other
/// loopback addresses where it takes many.
/// </summary>
public class TokenEndpointThrottleTests
{
    [Fact]
    public async Task Lock_out_attempts_from_30_addresses_leave_the_real_client_served()
    {
        // Default limits: 10 refused authentications per client id and address, 30 per address.
        await using var identity = await TestIdentity.StartAsync();
        var belize = await identity.IssueAsync(Role.State, "BLZ");

        // Anyone who knows Belize's client id (every node sees it as a token's sub) fails with it from 30
        // addresses, 10 times each, and goes on.
        var lockedOut = await Task.WhenAll(Enumerable.Range(2, 30).Select(async host =>
        {
            using var attacker = IdentityTests.ClientFrom($"127.0.0.{host}");
            for (var i = 0; i < 10; i++)
            {
                Assert.Equal(401, await IdentityTests.RequestTokenAtAsync(identity, "connect/token", belize with { ClientSecret = $"guess-{host}-{i}" }, basic: false, attacker));
            }
            return await IdentityTests.RequestTokenAtAsync(identity, "connect/token", belize with { ClientSecret = "guess-again" }, basic: false, attacker);
        }));

        Assert.All(lockedOut, status => Assert.Equal(429, status)); // each attacker locked itself out
        var (status, body) = await identity.RequestTokenAsync(belize);
        Assert.Equal(200, status); // but not Belize
        Assert.False(string.IsNullOrEmpty(body.GetProperty("access_token").GetString()));
    }

    [Fact]
    public async Task Malformed_or_oversized_client_ids_are_refused_as_bad_clients_and_refused_requests_allocate_nothing()
    {
        await using var identity = await TestIdentity.StartAsync("--Identity:FailedAuthenticationsPerAddress=50");
        var throttle = identity.Services.GetRequiredService<TokenEndpointThrottle>();
        var unknown = await identity.RequestTokenAsync(new ClientCredential("blz-state-ffffffffff", "guess"));
        Assert.Equal(401, unknown.Status);
        var keys = throttle.TrackedKeys; // the address, and (client id, address)

        // 40 distinct client ids no credential can have: oversized, upper case, a line feed, non-ASCII,
        // one character too long; in the form, in an HTTP Basic header, or as the issuer of an assertion.
        for (var i = 0; i < 40; i++)
        {
            var clientId = (i % 5) switch
            {
                0 => new string('a', 5_000) + i,
                1 => $"BLZ-STATE-{i:D10}",
                2 => $"blz-state\n{i}",
                3 => $"blz-státe-{i}",
                _ => $"blz-state-{i}".PadRight(101, '0'),
            };
            if (i % 3 == 2)
            {
                Assert.Equal(401, await IdentityTests.RequestTokenAtAsync(identity, "connect/token", new ClientCredential(clientId, "guess"), basic: true));
                continue;
            }
            var form = i % 3 == 0
                ? new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["client_id"] = clientId, ["client_secret"] = "guess" }
                : new Dictionary<string, string>
                {
                    ["grant_type"] = "client_credentials",
                    ["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ["client_assertion"] = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
                    {
                        Issuer = clientId, Audience = identity.Issuer, Expires = DateTime.UtcNow.AddMinutes(2),
                        Claims = new Dictionary<string, object> { ["jti"] = Guid.NewGuid().ToString() },
                    }),
                };
            var (status, body) = await identity.RequestTokenAsync(form);
            Assert.Equal(401, status);
            Assert.Equal(unknown.Body.ToString(), body.ToString()); // the same answer as any bad client
        }
        Assert.Equal(keys, throttle.TrackedKeys);

        // They count under the address: 1 + 40 failures so far; 9 more with new well-formed ids fill it.
        for (var i = 0; i < 9; i++)
        {
            Assert.Equal(401, (await identity.RequestTokenAsync(new ClientCredential($"pan-state-{i:D10}", "guess"))).Status);
        }
        Assert.Equal(keys + 9, throttle.TrackedKeys);
        // From a full address, new client ids (well-formed or not) are refused and add nothing.
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(429, (await identity.RequestTokenAsync(new ClientCredential($"gtm-state-{i:D10}", "guess"))).Status);
            Assert.Equal(429, (await identity.RequestTokenAsync(new ClientCredential(new string('z', 5_000) + i, "guess"))).Status);
        }
        Assert.Equal(keys + 9, throttle.TrackedKeys);
    }

    [Fact]
    public async Task A_token_request_body_over_16_KiB_or_with_too_many_fields_is_refused_without_a_token()
    {
        await using var identity = await TestIdentity.StartAsync();
        var belize = await identity.IssueAsync(Role.State, "BLZ");
        Dictionary<string, string> Form(params (string Key, string Value)[] extra)
        {
            var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["client_id"] = belize.ClientId, ["client_secret"] = belize.ClientSecret };
            foreach (var (key, value) in extra)
            {
                form[key] = value;
            }
            return form;
        }

        // The right credentials, padded past the cap: with a Content-Length, and streamed in chunks.
        var padding = ("padding", new string('p', 20 * 1024));
        using var declared = await identity.Http.PostAsync(identity.TokenEndpoint, new FormUrlEncodedContent(Form(padding)));
        using var chunked = new HttpRequestMessage(HttpMethod.Post, identity.TokenEndpoint) { Content = new FormUrlEncodedContent(Form(padding)) };
        chunked.Headers.TransferEncodingChunked = true;
        using var streamed = await identity.Http.SendAsync(chunked);
        // Under the cap, but more fields than the form reader takes.
        using var fields = await identity.Http.PostAsync(identity.TokenEndpoint, new FormUrlEncodedContent(Form([.. Enumerable.Range(0, 2_000).Select(i => ($"f{i}", ""))])));

        foreach (var (response, expected) in new[] { (declared, 413), (streamed, 413), (fields, 400) })
        {
            Assert.Equal(expected, (int)response.StatusCode);
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("invalid_request", body.GetProperty("error").GetString());
            Assert.False(body.TryGetProperty("access_token", out _));
        }
        Assert.Equal(200, (await identity.RequestTokenAsync(belize)).Status); // the same credentials, unpadded
    }

    [Fact]
    public async Task A_client_over_its_token_limit_gets_429_with_Retry_After_and_another_client_is_still_served()
    {
        await using var identity = await TestIdentity.StartAsync("--Identity:TokensPerClientPerMinute=3");
        var belize = await identity.IssueAsync(Role.State, "BLZ");
        var panama = await identity.IssueAsync(Role.State, "PAN");
        // Only the client's own authenticated requests count: failures with its id fill nothing.
        using (var outsider = IdentityTests.ClientFrom("127.0.0.2"))
        {
            for (var i = 0; i < 5; i++)
            {
                Assert.Equal(401, await IdentityTests.RequestTokenAtAsync(identity, "connect/token", belize with { ClientSecret = $"guess-{i}" }, basic: false, outsider));
            }
        }

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(200, (await identity.RequestTokenAsync(belize)).Status);
        }
        using var over = await PostAsync(identity, belize);
        // Refused before the secret is checked: a wrong one gets the same answer, and no hashing.
        using var overWithAWrongSecret = await PostAsync(identity, belize with { ClientSecret = "guess" });

        foreach (var response in new[] { over, overWithAWrongSecret })
        {
            Assert.Equal(429, (int)response.StatusCode);
            Assert.InRange(response.Headers.RetryAfter?.Delta ?? TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("temporarily_unavailable", body.GetProperty("error").GetString());
            Assert.Contains("at most 3 a minute", body.GetProperty("error_description").GetString());
            Assert.False(body.TryGetProperty("access_token", out _));
        }
        Assert.Equal(200, (await identity.RequestTokenAsync(panama)).Status);
        // Through the token client, the refusal names its cause.
        using var tokens = new TokenClient(identity.Http, identity.TokenEndpoint, belize, MirpsAuth.ReadScope);
        Assert.Equal("temporarily_unavailable", (await Assert.ThrowsAsync<TokenRequestException>(() => tokens.GetTokenAsync().AsTask())).Error);
    }

    [Fact]
    public async Task A_limit_below_1_stops_the_server_at_start_naming_the_key()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestIdentity.StartAsync("--Identity:TokensPerClientPerMinute=0"));

        Assert.Contains("Identity:TokensPerClientPerMinute", error.Message);
    }

    private static Task<HttpResponseMessage> PostAsync(TestIdentity identity, ClientCredential credential) =>
        identity.Http.PostAsync(identity.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = credential.ClientId, ["client_secret"] = credential.ClientSecret,
        }));
}
