using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Mirps.Auth;
using Mirps.Identity.V1;
using MirpsExchange.Cli;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Node.Extensions;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The States' log-signing keys: registered by an admin at the identity server (audited), published in its
/// signed revocation list, and learnt by every node, each key for its own State only.
/// </summary>
public class LogKeyTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    private static Task<(int Code, string Output, string Error)> CredentialsAsync(TestIdentity identity, params string[] args) =>
        CliRunner.RunAsync(["credentials", .. args, "--identity", identity.Issuer, "--admin-api", identity.GrpcAddress,
            "--credential", Path.Combine(identity.DataDirectory, "admin-credential.json")]);

    /// <summary>The log_keys claim (or <paramref name="claim"/>) of the list the identity server publishes now (it rebuilds it at most once a second).</summary>
    private static async Task<JsonElement> PublishedAsync(TestIdentity identity, string claim = RevocationListFormat.LogKeysClaim)
    {
        await Task.Delay(TimeSpan.FromSeconds(1.1));
        var jwt = await identity.Http.GetStringAsync(identity.Issuer + RevocationListFormat.Path);
        using var payload = JsonDocument.Parse(Base64UrlEncoder.Decode(new JsonWebToken(jwt).EncodedPayload));
        return payload.RootElement.GetProperty(claim).Clone();
    }

    private static async Task<List<AuditEvent>> AuditAsync(TestIdentity identity, string action) =>
        [.. (await identity.Credentials.ListAuditEventsAsync(new ListAuditEventsRequest { PageSize = 500 })).Events.Where(e => e.Action == action)];

    private static async Task<T> WithinBoundAsync<T>(Func<T?> probe, string what) where T : class
    {
        var since = Stopwatch.StartNew();
        while (true)
        {
            if (probe() is { } done)
            {
                return done;
            }
            Assert.True(since.Elapsed < Bound, $"{what} not within {Bound.TotalSeconds:0} s");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task A_key_registered_with_the_CLI_is_audited_once_published_and_known_to_a_node_for_its_State_only_until_retired()
    {
        await using var identity = await TestIdentity.StartAsync();
        await using var node = await TestNode.StartAsync("CRI", identity, "--Node:RevocationPollInterval=00:00:01");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var spki = key.ExportSubjectPublicKeyInfo();
        var kid = LogKeys.KeyId(spki);
        var pem = Path.Combine(identity.Folder, "pan-log.pem");
        await File.WriteAllTextAsync(pem, key.ExportSubjectPublicKeyInfoPem());

        var first = await CredentialsAsync(identity, "register-log-key", "--country", "PAN", "--public-key", pem);
        var again = await CredentialsAsync(identity, "register-log-key", "--country", "pan", "--public-key", pem);

        Assert.True(first.Code == CliApp.Ok, first.Error + first.Output);
        Assert.Contains($"Registered log key {kid} of PAN at ", first.Output);
        Assert.True(again.Code == CliApp.Ok, again.Error + again.Output);
        Assert.Equal(first.Output, again.Output); // the same answer, registration time included
        // (The CRI node's own key was registered before it started, as every test node's is.)
        var audited = Assert.Single(await AuditAsync(identity, "RegisterLogKey"), e => e.Detail.Contains(kid, StringComparison.Ordinal));
        Assert.Equal(identity.Admin.ClientId, audited.Actor);
        Assert.Contains(kid, audited.Detail);
        Assert.Contains("PAN", audited.Detail);

        var published = Assert.Single((await PublishedAsync(identity)).GetProperty("PAN").EnumerateArray());
        Assert.Equal(kid, published.GetProperty("kid").GetString());
        Assert.Equal(spki, Base64UrlEncoder.DecodeBytes(published.GetProperty("spki").GetString()));
        Assert.False(published.TryGetProperty("retired", out _));

        var list = node.Services.GetRequiredService<RevocationList>();
        var learnt = await WithinBoundAsync(() => list.TryGetLogKey("PAN", kid, out var k) ? k : null, "the node knows Panama's key");
        Assert.Equal(spki, learnt.Spki);
        Assert.Null(learnt.RetiredTime);
        Assert.False(list.TryGetLogKey("CRI", kid, out _)); // Panama's key never verifies Costa Rica's log
        var health = (await node.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["revocation"];
        Assert.Contains("2 log keys", health.Description); // Panama's and the CRI node's own

        var listed = await CredentialsAsync(identity, "log-keys");
        Assert.True(listed.Code == CliApp.Ok, listed.Error + listed.Output);
        Assert.Matches($@"(?m)^PAN\s+{kid}\s+\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+-$", listed.Output);

        var retired = await CredentialsAsync(identity, "retire-log-key", kid, "--reason", "node replaced");
        var retiredAgain = await CredentialsAsync(identity, "retire-log-key", kid);

        Assert.True(retired.Code == CliApp.Ok, retired.Error + retired.Output);
        Assert.Contains($"Log key {kid} of PAN is retired since ", retired.Output);
        Assert.Equal(retired.Output, retiredAgain.Output);
        Assert.Contains("node replaced", Assert.Single(await AuditAsync(identity, "RetireLogKey")).Detail);
        var retirement = (await identity.Credentials.ListLogKeysAsync(new ListLogKeysRequest())).LogKeys.Single(k => k.KeyId == kid).RetireTime.ToDateTimeOffset();
        Assert.Equal(retirement.ToUnixTimeSeconds(), Assert.Single((await PublishedAsync(identity)).GetProperty("PAN").EnumerateArray()).GetProperty("retired").GetInt64());
        // Still published, so heads signed before stay verifiable; replicas read when it was retired.
        Assert.Equal(retirement, (await WithinBoundAsync(() => list.TryGetLogKey("PAN", kid, out var k) && k.RetiredTime is not null ? k : null, "the node knows the key is retired")).RetiredTime);
        // A retired key is not brought back by registering it again.
        Assert.Equal(CliApp.Failed, (await CredentialsAsync(identity, "register-log-key", "--country", "PAN", "--public-key", pem)).Code);
    }

    [Fact]
    public async Task A_key_never_registered_is_retired_for_its_State_published_with_no_public_key_verifies_nothing_and_is_never_registered()
    {
        await using var identity = await TestIdentity.StartAsync();
        await using var node = await TestNode.StartAsync("CRI", identity, "--Node:RevocationPollInterval=00:00:01");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256); // a key a PAN rotation handed over to, then copied
        var kid = LogKeys.KeyId(key.ExportSubjectPublicKeyInfo());
        var pem = Path.Combine(identity.Folder, "pan-next.pem");
        await File.WriteAllTextAsync(pem, key.ExportSubjectPublicKeyInfoPem());

        var unknown = await CredentialsAsync(identity, "retire-log-key", kid);
        var retired = await CredentialsAsync(identity, "retire-log-key", kid, "--country", "pan", "--reason", "key file copied");
        var again = await CredentialsAsync(identity, "retire-log-key", kid);

        Assert.Equal(CliApp.Failed, unknown.Code);
        Assert.Contains("name its State", unknown.Error);
        Assert.True(retired.Code == CliApp.Ok, retired.Error + retired.Output);
        Assert.Contains($"Log key {kid} of PAN is retired since ", retired.Output);
        Assert.Equal(retired.Output, again.Output);
        var audited = Assert.Single(await AuditAsync(identity, "RetireLogKey"));
        Assert.Contains("not registered", audited.Detail);
        Assert.Contains("key file copied", audited.Detail);
        var listed = Assert.Single((await identity.Credentials.ListLogKeysAsync(new ListLogKeysRequest())).LogKeys, k => k.KeyId == kid);
        Assert.True(listed.PublicKey.IsEmpty);
        Assert.Equal(listed.RegisterTime, listed.RetireTime);

        // Published apart from the registered keys (nodes that predate it ignore it), with no public key.
        Assert.False((await PublishedAsync(identity)).TryGetProperty("PAN", out _));
        var published = Assert.Single((await PublishedAsync(identity, RevocationListFormat.RetiredLogKeysClaim)).GetProperty("PAN").EnumerateArray());
        Assert.Equal(kid, published.GetProperty("kid").GetString());
        Assert.Equal(listed.RetireTime.ToDateTimeOffset().ToUnixTimeSeconds(), published.GetProperty("retired").GetInt64());
        Assert.False(published.TryGetProperty("spki", out _));

        // The node learns it retired (a head a rotation handed over to it signs from then on is refused: LogKeyRotationTests)
        // and verifies nothing with it, before its retirement either.
        var list = node.Services.GetRequiredService<RevocationList>();
        var learnt = await WithinBoundAsync(() => list.TryGetLogKey("PAN", kid, out var k) ? k : null, "the node knows the key is retired");
        Assert.Equal(listed.RetireTime.ToDateTimeOffset(), learnt.RetiredTime);
        var keys = new MirpsExchange.Node.Sync.PublishedLogKeys(list);
        Assert.Null(keys.Find("PAN", kid, learnt.RetiredTime!.Value.AddDays(-1)));
        Assert.True(keys.RetiredBefore("PAN", kid, learnt.RetiredTime.Value));

        // It is never made valid by registering it.
        await RpcAssert.ReasonAsync(() => identity.Credentials.RegisterLogKeyAsync(new RegisterLogKeyRequest { Country = "PAN", PublicKey = ByteString.CopyFrom(key.ExportSubjectPublicKeyInfo()) }).ResponseAsync,
            StatusCode.FailedPrecondition, "LOG_KEY_RETIRED");
    }

    [Fact]
    public async Task A_node_that_meets_an_unknown_key_fetches_the_list_at_once_instead_of_at_its_next_poll_but_at_most_every_2_seconds()
    {
        await using var identity = await TestIdentity.StartAsync();
        // The longest poll interval allowed: without RefreshSoon the key would arrive up to 59 s later.
        await using var node = await TestNode.StartAsync("CRI", identity, "--Node:RevocationPollInterval=00:00:59");
        var list = node.Services.GetRequiredService<RevocationList>();
        await WithinBoundAsync(() => list.ConfirmedAt is { } at ? (object)at : null, "the first list");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var registered = await identity.Credentials.RegisterLogKeyAsync(new RegisterLogKeyRequest
        {
            Country = "GTM", PublicKey = ByteString.CopyFrom(key.ExportSubjectPublicKeyInfo()),
        });
        Assert.False(list.TryGetLogKey("GTM", registered.KeyId, out _));

        var since = Stopwatch.StartNew();
        while (!list.TryGetLogKey("GTM", registered.KeyId, out _))
        {
            list.RefreshSoon(); // as a replica does each time a head names this key id
            Assert.True(since.Elapsed < TimeSpan.FromSeconds(15), "RefreshSoon did not fetch the list");
            await Task.Delay(100);
        }

        // A peer naming unknown key ids in every head cannot make the node hammer the identity server:
        // asked without pause for 5 s, it fetches at most once every 2 s (each fetch confirms the list anew).
        var fetches = new List<DateTimeOffset>();
        since.Restart();
        while (since.Elapsed < TimeSpan.FromSeconds(5))
        {
            list.RefreshSoon();
            if (list.ConfirmedAt is { } at && (fetches.Count == 0 || at != fetches[^1]))
            {
                fetches.Add(at);
            }
            await Task.Delay(5);
        }
        Assert.InRange(fetches.Count, 2, 4); // the one held, then one about every 2 s
        Assert.All(fetches.Zip(fetches.Skip(1)), pair => Assert.True(pair.Second - pair.First > TimeSpan.FromSeconds(1.5), $"fetched again after {(pair.Second - pair.First).TotalSeconds:0.00} s"));
    }

    [Fact]
    public async Task Bad_keys_unknown_countries_another_States_key_and_non_admin_callers_are_refused_and_nothing_is_published()
    {
        await using var identity = await TestIdentity.StartAsync();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        using var rsa = RSA.Create(2048);
        var spki = ByteString.CopyFrom(key.ExportSubjectPublicKeyInfo());
        Task Register(string country, ByteString bytes, CredentialService.CredentialServiceClient? client = null) =>
            (client ?? identity.Credentials).RegisterLogKeyAsync(new RegisterLogKeyRequest { Country = country, PublicKey = bytes }).ResponseAsync;

        await RpcAssert.InvalidArgumentAsync(() => Register("PAN", ByteString.Empty), "public_key");
        await RpcAssert.InvalidArgumentAsync(() => Register("PAN", ByteString.CopyFromUtf8("garbage")), "public_key");
        await RpcAssert.InvalidArgumentAsync(() => Register("PAN", ByteString.CopyFrom(p384.ExportSubjectPublicKeyInfo())), "public_key");
        await RpcAssert.InvalidArgumentAsync(() => Register("PAN", ByteString.CopyFrom(rsa.ExportSubjectPublicKeyInfo())), "public_key");
        await RpcAssert.InvalidArgumentAsync(() => Register("PAN", ByteString.CopyFrom(key.ExportPkcs8PrivateKey())), "public_key");
        await RpcAssert.InvalidArgumentAsync(() => Register("USA", spki), "country");
        await RpcAssert.InvalidArgumentAsync(() => Register("", spki), "country");
        await RpcAssert.InvalidArgumentAsync(() => identity.Credentials.RetireLogKeyAsync(new RetireLogKeyRequest()).ResponseAsync, "key_id");
        await RpcAssert.ReasonAsync(() => identity.Credentials.RetireLogKeyAsync(new RetireLogKeyRequest { KeyId = LogKeys.KeyId(spki.Span) }).ResponseAsync,
            StatusCode.NotFound, "LOG_KEY_NOT_FOUND");
        // A key never registered is retired only for a MIRPS State, and only by a key id's form.
        await RpcAssert.InvalidArgumentAsync(() => identity.Credentials.RetireLogKeyAsync(new RetireLogKeyRequest { KeyId = LogKeys.KeyId(spki.Span), Country = "USA" }).ResponseAsync, "country");
        await RpcAssert.InvalidArgumentAsync(() => identity.Credentials.RetireLogKeyAsync(new RetireLogKeyRequest { KeyId = "not-a-key-id", Country = "PAN" }).ResponseAsync, "key_id");

        // Panama's key, then the same key claimed for Costa Rica: refused, it stays Panama's alone.
        var panama = await identity.Credentials.RegisterLogKeyAsync(new RegisterLogKeyRequest { Country = "PAN", PublicKey = spki });
        var taken = await RpcAssert.ReasonAsync(() => Register("CRI", spki), StatusCode.AlreadyExists, "LOG_KEY_OF_ANOTHER_STATE");
        Assert.Equal("PAN", taken.Metadata["country"]);
        await RpcAssert.ReasonAsync(() => identity.Credentials.RetireLogKeyAsync(new RetireLogKeyRequest { KeyId = panama.KeyId, Country = "CRI" }).ResponseAsync,
            StatusCode.FailedPrecondition, "LOG_KEY_OF_ANOTHER_STATE");

        // A State's own credential (here Costa Rica's, wanting Panama's key for itself) is no admin; nor is a token without the admin scope.
        var costaRica = await identity.IssueAsync(Role.State, "CRI");
        var stateToken = (await identity.RequestTokenAsync(costaRica)).Body.GetProperty("access_token").GetString();
        var state = identity.CredentialsWith(stateToken);
        var forged = identity.CredentialsWith(NoAdminScopeToken(identity));
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var otherSpki = ByteString.CopyFrom(other.ExportSubjectPublicKeyInfo());
        foreach (var client in new[] { state, identity.CredentialsWith(null) })
        {
            Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(() => Register("CRI", otherSpki, client))).StatusCode);
            Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(() =>
                client.RetireLogKeyAsync(new RetireLogKeyRequest { KeyId = panama.KeyId }).ResponseAsync)).StatusCode);
        }
        await RpcAssert.ReasonAsync(() => Register("CRI", otherSpki, forged), StatusCode.PermissionDenied, "MISSING_SCOPE");
        await RpcAssert.ReasonAsync(() => forged.RetireLogKeyAsync(new RetireLogKeyRequest { KeyId = panama.KeyId }).ResponseAsync, StatusCode.PermissionDenied, "MISSING_SCOPE");
        await RpcAssert.ReasonAsync(() => forged.ListLogKeysAsync(new ListLogKeysRequest()).ResponseAsync, StatusCode.PermissionDenied, "MISSING_SCOPE");

        var keys = (await identity.Credentials.ListLogKeysAsync(new ListLogKeysRequest())).LogKeys;
        var only = Assert.Single(keys);
        Assert.Equal(("PAN", panama.KeyId, (Google.Protobuf.WellKnownTypes.Timestamp?)null), (only.Country, only.KeyId, only.RetireTime));
        Assert.Single(await AuditAsync(identity, "RegisterLogKey"));
        Assert.Empty(await AuditAsync(identity, "RetireLogKey"));
        var published = await PublishedAsync(identity);
        Assert.Equal(["PAN"], published.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task Cli_register_log_key_refuses_a_file_without_a_public_key_before_sending_anything()
    {
        await using var identity = await TestIdentity.StartAsync();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var file = Path.Combine(identity.Folder, "private.pem");
        await File.WriteAllTextAsync(file, key.ExportPkcs8PrivateKeyPem());

        var (code, output, error) = await CredentialsAsync(identity, "register-log-key", "--country", "PAN", "--public-key", file);
        var p384 = await RegisterPemAsync(identity, ECDsa.Create(ECCurve.NamedCurves.nistP384));

        Assert.Equal(CliApp.Refused, code);
        Assert.Contains("PUBLIC KEY", error);
        Assert.DoesNotContain("Registered", output);
        Assert.Equal(CliApp.Refused, p384.Code);
        Assert.Contains("public_key:", p384.Error);
        Assert.Empty((await identity.Credentials.ListLogKeysAsync(new ListLogKeysRequest())).LogKeys);
    }

    private static async Task<(int Code, string Output, string Error)> RegisterPemAsync(TestIdentity identity, ECDsa key)
    {
        using (key)
        {
            var file = Path.Combine(identity.Folder, $"{Guid.NewGuid():N}.pem");
            await File.WriteAllTextAsync(file, key.ExportSubjectPublicKeyInfoPem());
            return await CredentialsAsync(identity, "register-log-key", "--country", "PAN", "--public-key", file);
        }
    }

    /// <summary>A token the identity server could have signed (its key, issuer, audience) but without the admin scope.</summary>
    private static string NoAdminScopeToken(TestIdentity identity)
    {
        var keyFile = Directory.GetFiles(Path.Combine(identity.DataDirectory, "keys"), "signing-*.pem").Order(StringComparer.Ordinal).Last();
        using var rsa = RSA.Create();
        rsa.ImportFromPem(File.ReadAllText(keyFile));
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = identity.Issuer,
            Audience = MirpsAuth.IdentityAudience,
            Claims = new Dictionary<string, object> { ["sub"] = identity.Admin.ClientId, ["scope"] = MirpsAuth.ReadScope, ["role"] = MirpsAuth.AdminRole },
            Expires = DateTime.UtcNow.AddMinutes(5),
            TokenType = "at+jwt",
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(rsa.ExportParameters(true)) { KeyId = Path.GetFileNameWithoutExtension(keyFile) }, SecurityAlgorithms.RsaSha256),
        });
    }
}
