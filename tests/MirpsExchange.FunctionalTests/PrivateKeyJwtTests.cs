using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Mirps.Identity.V1;
using MirpsExchange.FunctionalTests.Infrastructure;

namespace MirpsExchange.FunctionalTests;

/// <summary>private_key_jwt (RFC 7523): the client signs an assertion with a key only it holds; the server has its public key.</summary>
public class PrivateKeyJwtTests
{
    private sealed record KeyClient(string ClientId, RSA Key, string KeyId);

    private static string PublicJwk(RSA key, string keyId)
    {
        var p = key.ExportParameters(false);
        return $$"""{"kty":"RSA","use":"sig","kid":"{{keyId}}","n":"{{Base64UrlEncoder.Encode(p.Modulus)}}","e":"{{Base64UrlEncoder.Encode(p.Exponent)}}"}""";
    }

    private static async Task<KeyClient> IssueAsync(TestIdentity identity)
    {
        var key = RSA.Create(2048);
        var response = await identity.Credentials.IssueCredentialAsync(new IssueCredentialRequest
        {
            Role = Role.State, Country = "PAN", AuthenticationMethod = AuthenticationMethod.PrivateKeyJwt, PublicKeyJwk = PublicJwk(key, "pan-key-1"),
        });
        Assert.Empty(response.ClientSecret);
        Assert.Equal("pan-key-1", response.Credential.PublicKeyId);
        return new KeyClient(response.Credential.ClientId, key, "pan-key-1");
    }

    /// <summary>A client assertion as RFC 7523 and OpenIddict want it; the optional arguments break one part of it.</summary>
    private static string Assertion(TestIdentity identity, string clientId, RSA key, string keyId, DateTime? expires = null, string? tokenId = "",
        string type = "client-authentication+jwt", string? audience = null, string? issuer = null)
    {
        var issued = (expires ?? DateTime.UtcNow.AddMinutes(2)).AddMinutes(-2);
        var claims = new Dictionary<string, object> { ["sub"] = clientId };
        if (tokenId is not null)
        {
            claims["jti"] = tokenId.Length > 0 ? tokenId : Guid.NewGuid().ToString();
        }
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? clientId,
            Audience = audience ?? identity.Issuer,
            Claims = claims,
            IssuedAt = issued,
            NotBefore = issued,
            Expires = expires ?? DateTime.UtcNow.AddMinutes(2),
            TokenType = type,
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(key) { KeyId = keyId }, SecurityAlgorithms.RsaSha256),
        });
    }

    private static async Task<Grpc.Core.StatusCode> StatusOfAsync(Task call)
    {
        try
        {
            await call;
            return Grpc.Core.StatusCode.OK;
        }
        catch (Grpc.Core.RpcException e)
        {
            return e.StatusCode;
        }
    }

    private static Task<(int Status, System.Text.Json.JsonElement Body)> RequestAsync(TestIdentity identity, string clientId, string assertion) =>
        identity.RequestTokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = clientId,
            ["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ["client_assertion"] = assertion,
        });

    [Fact]
    public async Task A_valid_assertion_gets_a_token_with_the_States_claims()
    {
        await using var identity = await TestIdentity.StartAsync();
        var client = await IssueAsync(identity);

        var (status, body) = await RequestAsync(identity, client.ClientId, Assertion(identity, client.ClientId, client.Key, client.KeyId));

        Assert.Equal(200, status);
        var token = new JsonWebToken(body.GetProperty("access_token").GetString());
        Assert.Equal("PAN", token.GetClaim("country").Value);
        Assert.Equal(client.ClientId, token.Subject);
    }

    [Fact]
    public async Task A_replayed_assertion_is_refused_even_when_sent_concurrently()
    {
        await using var identity = await TestIdentity.StartAsync();
        var client = await IssueAsync(identity);
        var assertion = Assertion(identity, client.ClientId, client.Key, client.KeyId);

        var results = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => RequestAsync(identity, client.ClientId, assertion)));
        var later = await RequestAsync(identity, client.ClientId, assertion);

        Assert.Single(results, r => r.Status == 200);
        Assert.All(results.Where(r => r.Status != 200), r => Assert.Equal("invalid_client", r.Body.GetProperty("error").GetString()));
        Assert.Equal(401, later.Status);
    }

    [Fact]
    public async Task An_assertion_signed_by_another_key_expired_or_without_jti_is_refused()
    {
        await using var identity = await TestIdentity.StartAsync();
        var client = await IssueAsync(identity);
        using var stranger = RSA.Create(2048);

        var wrongKey = await RequestAsync(identity, client.ClientId, Assertion(identity, client.ClientId, stranger, client.KeyId));
        var expired = await RequestAsync(identity, client.ClientId, Assertion(identity, client.ClientId, client.Key, client.KeyId, expires: DateTime.UtcNow.AddMinutes(-10)));
        var noJti = await RequestAsync(identity, client.ClientId, Assertion(identity, client.ClientId, client.Key, client.KeyId, tokenId: null));
        var good = await RequestAsync(identity, client.ClientId, Assertion(identity, client.ClientId, client.Key, client.KeyId));

        Assert.Equal((401, 401, 401), (wrongKey.Status, expired.Status, noJti.Status));
        Assert.Equal(200, good.Status);
    }

    /// <summary>
    /// Each mistake and the answer: RFC 7523 §3.2 asks for invalid_client (401) whenever the assertion does
    /// not authenticate the client, with one description, so a guesser learns nothing of which part was
    /// wrong (OpenIddict 7.8 alone answers a wrong aud with invalid_token and a wrong sub with invalid_grant).
    /// </summary>
    public static TheoryData<string, int, string> MalformedAssertions() => new()
    {
        { "typ JWT", 401, "invalid_client" },
        { "typ at+jwt", 401, "invalid_client" },
        { "aud the token endpoint", 401, "invalid_client" },
        { "aud a node's audience", 401, "invalid_client" },
        { "iss another client", 401, "invalid_client" },
        { "sub another client", 401, "invalid_client" },
    };

    [Theory]
    [MemberData(nameof(MalformedAssertions))]
    public async Task An_assertion_with_the_wrong_typ_aud_iss_or_sub_is_refused_and_no_token_is_issued(string mistake, int expectedStatus, string expectedError)
    {
        await using var identity = await TestIdentity.StartAsync();
        var client = await IssueAsync(identity);
        var other = await IssueAsync(identity); // a real client of the same server, whose id is no secret
        string Make(string type = "client-authentication+jwt", string? audience = null, string? issuer = null) =>
            Assertion(identity, client.ClientId, client.Key, client.KeyId, type: type, audience: audience, issuer: issuer);
        var assertion = mistake switch
        {
            // Plain JWT: any signed JWT of the client (an ID token, another protocol's) could pass as an assertion (RFC 7523 §3, ID2089).
            "typ JWT" => Make(type: "JWT"),
            "typ at+jwt" => Make(type: "at+jwt"), // the type of an access token
            // The audience must be the issuer itself (OpenIddict 7), not the endpoint URL nor anything else the client signs for.
            "aud the token endpoint" => Make(audience: identity.TokenEndpoint.ToString()),
            "aud a node's audience" => Make(audience: "mirps-node"),
            // iss must equal sub and both the client id: an assertion about one client signed in another's name proves nothing.
            "iss another client" => Make(issuer: other.ClientId),
            "sub another client" => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
            {
                Issuer = client.ClientId,
                Audience = identity.Issuer,
                Claims = new Dictionary<string, object> { ["sub"] = other.ClientId, ["jti"] = Guid.NewGuid().ToString() },
                Expires = DateTime.UtcNow.AddMinutes(2),
                TokenType = "client-authentication+jwt",
                SigningCredentials = new SigningCredentials(new RsaSecurityKey(client.Key) { KeyId = client.KeyId }, SecurityAlgorithms.RsaSha256),
            }),
            _ => throw new ArgumentOutOfRangeException(nameof(mistake)),
        };

        var (status, body) = await RequestAsync(identity, client.ClientId, assertion);
        var good = await RequestAsync(identity, client.ClientId, Make());

        Assert.False(body.TryGetProperty("access_token", out _), body.ToString());
        Assert.Equal((expectedStatus, expectedError), (status, body.GetProperty("error").GetString()));
        Assert.Equal(MirpsExchange.Identity.Tokens.ClientAuthenticationFailures.Description, body.GetProperty("error_description").GetString());
        Assert.Equal(200, good.Status); // the same client, key and server, with the one mistake corrected
    }

    [Fact]
    public async Task A_replaced_public_key_takes_effect_at_once()
    {
        await using var identity = await TestIdentity.StartAsync();
        await using var panama = await TestNode.StartAsync("PAN", identity, "--Node:RevocationPollInterval=00:00:01");
        var client = await IssueAsync(identity);
        using var next = RSA.Create(2048);
        // A token the old key obtained (the key may have leaked: a thief could hold such tokens).
        var (_, before) = await RequestAsync(identity, client.ClientId, Assertion(identity, client.ClientId, client.Key, client.KeyId));
        var oldToken = before.GetProperty("access_token").GetString();
        Assert.Equal(Grpc.Core.StatusCode.NotFound, await StatusOfAsync(panama.ObservationsWith(oldToken).GetObservationHistoryAsync(
            new Mirps.Observation.V1.GetObservationHistoryRequest { Key = Samples.KeyOf(Samples.Refugees("PAN")) }).ResponseAsync)); // accepted (nothing stored yet)

        var replaced = await identity.Credentials.RegisterPublicKeyAsync(new RegisterPublicKeyRequest { ClientId = client.ClientId, PublicKeyJwk = PublicJwk(next, "pan-key-2") });

        Assert.Equal("pan-key-2", replaced.Credential.PublicKeyId);
        Assert.Equal(401, (await RequestAsync(identity, client.ClientId, Assertion(identity, client.ClientId, client.Key, client.KeyId))).Status);
        Assert.Equal(200, (await RequestAsync(identity, client.ClientId, Assertion(identity, client.ClientId, next, "pan-key-2"))).Status);
        // The old key's token is cut off at the node too, within the poll interval.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        Grpc.Core.StatusCode status;
        while ((status = await StatusOfAsync(panama.ObservationsWith(oldToken).GetObservationHistoryAsync(new Mirps.Observation.V1.GetObservationHistoryRequest { Key = Samples.KeyOf(Samples.Refugees("PAN")) }).ResponseAsync)) != Grpc.Core.StatusCode.Unauthenticated)
        {
            Assert.Equal(Grpc.Core.StatusCode.NotFound, status);
            Assert.True(DateTime.UtcNow < deadline, "the replaced key's token is still accepted a minute later");
            await Task.Delay(200);
        }
        var audit = await identity.Credentials.ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 1 });
        var last = Assert.Single(audit.Events);
        Assert.Equal(("RegisterPublicKey", client.ClientId, identity.Admin.ClientId), (last.Action, last.ClientId, last.Actor));
        Assert.Contains("pan-key-2", last.Detail);
    }

    [Fact]
    public async Task A_private_key_sent_as_the_public_key_is_refused()
    {
        await using var identity = await TestIdentity.StartAsync();
        using var key = RSA.Create(2048);
        var p = key.ExportParameters(true);
        var withPrivate = $$"""{"kty":"RSA","kid":"k","n":"{{Base64UrlEncoder.Encode(p.Modulus)}}","e":"{{Base64UrlEncoder.Encode(p.Exponent)}}","d":"{{Base64UrlEncoder.Encode(p.D)}}","p":"{{Base64UrlEncoder.Encode(p.P)}}","q":"{{Base64UrlEncoder.Encode(p.Q)}}"}""";

        var violation = await RpcAssert.InvalidArgumentAsync(() => identity.Credentials.IssueCredentialAsync(new IssueCredentialRequest
        {
            Role = Role.State, Country = "PAN", AuthenticationMethod = AuthenticationMethod.PrivateKeyJwt, PublicKeyJwk = withPrivate,
        }).ResponseAsync, "public_key_jwk");

        Assert.Contains("private key", violation.Description);
    }

    [Fact]
    public async Task An_assertion_replayed_after_its_exp_but_within_the_accepted_clock_skew_is_refused()
    {
        await using var identity = await TestIdentity.StartAsync();
        var client = await IssueAsync(identity);
        // Already past exp, but within the 5 minutes of clock skew the server accepts: usable once, never twice.
        var assertion = Assertion(identity, client.ClientId, client.Key, client.KeyId, expires: DateTime.UtcNow.AddMinutes(-1));

        var first = await RequestAsync(identity, client.ClientId, assertion);
        var replayed = await RequestAsync(identity, client.ClientId, assertion);

        Assert.Equal(200, first.Status);
        Assert.Equal(401, replayed.Status);
        Assert.Equal("invalid_client", replayed.Body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task An_assertion_valid_for_hours_is_refused()
    {
        await using var identity = await TestIdentity.StartAsync();
        var client = await IssueAsync(identity);

        var longLived = await RequestAsync(identity, client.ClientId, Assertion(identity, client.ClientId, client.Key, client.KeyId, expires: DateTime.UtcNow.AddHours(3)));
        var shortLived = await RequestAsync(identity, client.ClientId, Assertion(identity, client.ClientId, client.Key, client.KeyId, expires: DateTime.UtcNow.AddMinutes(5)));

        Assert.Equal(401, longLived.Status);
        Assert.Equal(200, shortLived.Status);
    }

    [Fact]
    public async Task A_used_assertion_is_recorded_once_until_its_exp_plus_the_clock_skew()
    {
        await using var identity = await TestIdentity.StartAsync();
        var client = await IssueAsync(identity);
        var assertion = Assertion(identity, client.ClientId, client.Key, client.KeyId);
        await RequestAsync(identity, client.ClientId, assertion);

        var replayed = await RequestAsync(identity, client.ClientId, assertion);
        // The record of the first use is still there, once: the replay inserted nothing.
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(identity.DataDirectory, "identity.db")};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*), MIN(ExpireTime) FROM client_assertions";
        using var reader = command.ExecuteReader();
        reader.Read();

        Assert.Equal(401, replayed.Status);
        Assert.Equal(1, reader.GetInt64(0));
        // Kept for the assertion's exp (2 minutes) plus the 5 minutes of clock skew, not just until exp.
        Assert.InRange(new DateTimeOffset(reader.GetInt64(1), TimeSpan.Zero), DateTimeOffset.UtcNow.AddMinutes(6), DateTimeOffset.UtcNow.AddMinutes(8));
    }
}
