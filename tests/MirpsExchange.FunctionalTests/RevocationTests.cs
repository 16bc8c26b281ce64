using System.Diagnostics;
using System.Security.Cryptography;
using Grpc.Core;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Microsoft.Extensions.DependencyInjection;
using Mirps.Auth;
using Mirps.Catalog.V1;
using Mirps.Identity.V1;
using MirpsExchange.Cli;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Node;
using MirpsExchange.Node.Extensions;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// Revocation that takes effect: a revoked credential's, a rotated-at-once secret's and a compromised
/// signing key's tokens, already accepted and cached by nodes, are refused at every node within a minute
/// (nodes poll the identity server's signed revocation list; here every second, 15 s by default).
/// </summary>
public class RevocationTests
{
    /// <summary>What the identity server promises: a revocation is in force at every node within this.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    private static readonly string[] FastPolling = ["--Node:RevocationPollInterval=00:00:01"];

    /// <summary>A token of <paramref name="credential"/> for <paramref name="node"/> (each node accepts only its own), or for the credential's own node.</summary>
    private static async Task<string> TokenAsync(TestIdentity identity, ClientCredential credential, TestNode? node = null)
    {
        var (status, body) = await identity.RequestTokenAsync(credential, MirpsAuth.ReadScope, node is null ? null : MirpsAuth.NodeAudience(node.Country));
        Assert.True(status == 200, body.ToString());
        return body.GetProperty("access_token").GetString()!;
    }

    /// <summary>An authorized call (the catalogue needs a valid token) with exactly this bearer token.</summary>
    private static async Task<StatusCode> CallAsync(TestNode node, string token)
    {
        using var channel = node.ChannelWith(CallCredentials.FromInterceptor((_, metadata) =>
        {
            metadata.Add("Authorization", $"Bearer {token}");
            return Task.CompletedTask;
        }));
        try
        {
            await new CatalogService.CatalogServiceClient(channel).GetCatalogAsync(new GetCatalogRequest());
            return StatusCode.OK;
        }
        catch (RpcException e)
        {
            return e.StatusCode;
        }
    }

    /// <summary>Calls until the node refuses the token; fails if it still accepts it after the bound.</summary>
    private static async Task<TimeSpan> RefusedWithinBoundAsync(TestNode node, string token, Stopwatch since)
    {
        while (true)
        {
            var status = await CallAsync(node, token);
            if (status == StatusCode.Unauthenticated)
            {
                return since.Elapsed;
            }
            Assert.Equal(StatusCode.OK, status);
            Assert.True(since.Elapsed < Bound, $"{node.Country} still accepts the token {since.Elapsed.TotalSeconds:0.0} s after the revocation");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task After_a_key_roll_a_pulling_node_gets_a_new_token_and_sync_goes_on_within_a_minute()
    {
        await using var identity = await TestIdentity.StartAsync();
        await using var origin = await TestNode.StartAsync("BLZ", identity, [.. FastPolling, Samples.ShareWithAll]);
        await origin.Observations.SubmitObservationsAsync(Samples.Submit(Samples.Refugees(value: 230)));
        var file = Path.Combine(origin.Folder, "pan.json");
        MirpsExchange.ServiceDefaults.OwnerOnlyFile.WriteAllText(file, System.Text.Json.JsonSerializer.Serialize(await identity.IssueAsync(Role.State, "PAN")));
        await using var replica = await TestNode.StartAsync("PAN", identity,
            [.. FastPolling, $"--Node:Credential={file}", $"--Node:Peers:0:Address={origin.Address}", "--Node:Peers:0:Country=BLZ", "--Node:Peers:0:Origins:0=BLZ"]);
        await HoldsAsync(replica, 1, Stopwatch.StartNew());
        var oldKey = await TokenAsync(identity, origin.Credential, origin);

        await identity.Credentials.RollSigningKeyAsync(new RollSigningKeyRequest { Reason = "key file copied" });
        var since = Stopwatch.StartNew();
        // Once Belize's node refuses the old key's tokens, the replica's open stream is one of them.
        await RefusedWithinBoundAsync(origin, oldKey, since);
        // Belize submits with a token of the new key (the old one is refused everywhere now).
        using var belize = origin.TokensFor(origin.Credential, $"{MirpsAuth.ReadScope} {MirpsAuth.SubmitScope}");
        await WithinBoundAsync(since, async () =>
        {
            await origin.ObservationsWith(await belize.GetTokenAsync()).SubmitObservationsAsync(Samples.Submit(Samples.Refugees(value: 240)));
            return true;
        });

        // The replica's token (old key) is refused by Belize's node; it asks for a new one and catches up.
        await HoldsAsync(replica, 2, since);
    }

    /// <summary>Waits until the node holds <paramref name="rows"/> BLZ changes, within the bound.</summary>
    private static Task HoldsAsync(TestNode node, long rows, Stopwatch since) => WithinBoundAsync(since, () => Task.FromResult(node.CountRows() == rows));

    private static async Task WithinBoundAsync(Stopwatch since, Func<Task<bool>> done)
    {
        while (true)
        {
            try
            {
                if (await done())
                {
                    return;
                }
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated && since.Elapsed < Bound)
            {
                // the node has not fetched the new key yet
            }
            Assert.True(since.Elapsed < Bound, $"not done {since.Elapsed.TotalSeconds:0.0} s after the roll");
            await Task.Delay(250);
        }
    }

    [Fact]
    public async Task A_revoked_or_rotated_admin_credentials_token_is_refused_by_the_admin_API_at_once()
    {
        await using var identity = await TestIdentity.StartAsync();
        var thief = await identity.IssueAsync(Role.Admin);
        var rotated = await identity.IssueAsync(Role.Admin);
        var (_, thiefBody) = await identity.RequestTokenAsync(thief, MirpsAuth.AdminScope);
        var (_, rotatedBody) = await identity.RequestTokenAsync(rotated, MirpsAuth.AdminScope);
        var stolen = identity.CredentialsWith(thiefBody.GetProperty("access_token").GetString());
        var beforeRotation = identity.CredentialsWith(rotatedBody.GetProperty("access_token").GetString());
        await stolen.ListCredentialsAsync(new ListCredentialsRequest());
        await beforeRotation.ListCredentialsAsync(new ListCredentialsRequest());

        await identity.Credentials.RevokeCredentialAsync(new RevokeCredentialRequest { ClientId = thief.ClientId, Reason = "secret stolen" });
        var newSecret = await identity.Credentials.RotateSecretAsync(new RotateSecretRequest { ClientId = rotated.ClientId });

        // The revoked admin's token (valid another 15 minutes) can no longer issue itself a new admin credential.
        var refused = await Assert.ThrowsAsync<RpcException>(() => stolen.IssueCredentialAsync(new IssueCredentialRequest
        {
            Role = Role.Admin, AuthenticationMethod = AuthenticationMethod.ClientSecret, Description = "backdoor",
        }).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(() => beforeRotation.ListCredentialsAsync(new ListCredentialsRequest()).ResponseAsync)).StatusCode);
        Assert.DoesNotContain((await identity.Credentials.ListCredentialsAsync(new ListCredentialsRequest())).Credentials, c => c.Description == "backdoor");
        // The rotated admin's new secret works.
        var (_, freshBody) = await identity.RequestTokenAsync(new ClientCredential(rotated.ClientId, newSecret.ClientSecret), MirpsAuth.AdminScope);
        await identity.CredentialsWith(freshBody.GetProperty("access_token").GetString()).ListCredentialsAsync(new ListCredentialsRequest());
    }

    [Fact]
    public async Task A_node_cut_off_from_the_identity_server_reports_its_revocation_list_stale()
    {
        var identity = await TestIdentity.StartAsync();
        await using var belize = await TestNode.StartAsync("BLZ", identity, FastPolling);
        var health = belize.Services.GetRequiredService<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckService>();
        async Task<Microsoft.Extensions.Diagnostics.HealthChecks.HealthReportEntry> RevocationAsync() => (await health.CheckHealthAsync()).Entries["revocation"];
        var since = Stopwatch.StartNew();
        while ((await RevocationAsync()).Status != Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy)
        {
            Assert.True(since.Elapsed < Bound, "no revocation list confirmed");
            await Task.Delay(200);
        }

        await identity.DisposeAsync();
        since.Restart();
        Microsoft.Extensions.Diagnostics.HealthChecks.HealthReportEntry entry;
        while ((entry = await RevocationAsync()).Status == Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy)
        {
            Assert.True(since.Elapsed < Bound, "the node still reports its revocation list fresh");
            await Task.Delay(200);
        }
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Degraded, entry.Status);
        Assert.Contains("revocations since then are not enforced", entry.Description);
        belize.Errors.Expect("OpenIddict.Validation"); // its key refreshes fail while the identity server is gone
    }

    [Fact]
    public async Task A_slow_readers_query_stream_ends_once_its_token_is_revoked()
    {
        await using var identity = await TestIdentity.StartAsync();
        await using var belize = await TestNode.StartAsync("BLZ", identity, [.. FastPolling, Samples.ShareWithAll]);
        // 7 months x 3 sexes x 251 origins of WORK_PERMITS: 5,271 rows, far more than the stream's buffers hold.
        var origins = MirpsExchange.Catalogue.StandardCatalogue.LoadStandard().Codelist("CL_COUNTRY_OF_ORIGIN").Order(StringComparer.Ordinal).ToArray();
        for (var month = 1; month <= 7; month++)
        {
            var request = new Mirps.Observation.V1.SubmitObservationsRequest();
            foreach (var sex in new[] { "F", "M", "_T" })
            foreach (var origin in origins)
            {
                request.Observations.Add(new Mirps.Observation.V1.Observation
                {
                    IndicatorCode = "WORK_PERMITS", Country = "BLZ", Period = $"2023-{month:D2}", Sex = sex, CountryOfOrigin = origin,
                    // month permits per sex and origin; each total the sum of its breakdown (the validation rules)
                    Value = month * (sex == "_T" ? 2 : 1) * (origin == "_T" ? origins.Length - 1 : 1), Status = Mirps.Observation.V1.ObservationStatus.Normal,
                });
            }
            await belize.Observations.SubmitObservationsAsync(request);
        }
        var total = 7 * 3 * origins.Length;
        var reader = await identity.IssueAsync(Role.State, "CRI");
        var token = await TokenAsync(identity, reader, belize);
        // A reader that takes its time: the smallest HTTP/2 window, one row per message.
        using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(belize.Address, new Grpc.Net.Client.GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { InitialHttp2StreamWindowSize = 65_535 },
            Credentials = ChannelCredentials.Create(ChannelCredentials.Insecure, CallCredentials.FromInterceptor((_, metadata) =>
            {
                metadata.Add("Authorization", $"Bearer {token}");
                return Task.CompletedTask;
            })),
            UnsafeUseInsecureChannelCallCredentials = true,
        });
        using var call = new Mirps.Observation.V1.ObservationService.ObservationServiceClient(channel)
            .StreamObservations(new Mirps.Observation.V1.StreamObservationsRequest { IndicatorCodes = { "WORK_PERMITS" }, BatchSize = 1 });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));

        await identity.Credentials.RevokeCredentialAsync(new RevokeCredentialRequest { ClientId = reader.ClientId, Reason = "left the federation" });
        await RefusedWithinBoundAsync(belize, token, Stopwatch.StartNew());

        var received = 1;
        var cut = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
                received++;
            }
        });
        Assert.Equal(StatusCode.Unauthenticated, cut.StatusCode);
        Assert.Contains("revoked", cut.Status.Detail);
        Assert.True(received < total, $"all {total} rows were read after the revocation");
    }

    [Fact]
    public async Task A_roll_also_cuts_off_the_previous_key_still_published_after_a_scheduled_rollover()
    {
        var identity = await TestIdentity.StartAsync();
        await using var belize = await TestNode.StartAsync("BLZ", identity, FastPolling);
        var credential = await identity.IssueAsync(Role.State, "BLZ");
        var previousKey = await TokenAsync(identity, credential, belize);
        // A restart after the rollover period: a new key signs, the previous one stays published until its tokens expire.
        await using var restarted = await identity.RestartAsync("--Identity:SigningKeyRollover=00:00:00.001");
        var currentKey = await TokenAsync(restarted, credential, belize);
        Assert.NotEqual(new JsonWebToken(previousKey).Kid, new JsonWebToken(currentKey).Kid);
        Assert.Equal(StatusCode.OK, await CallAsync(belize, previousKey));

        // Whoever copied the key folder holds both keys: the roll marks both compromised.
        var rolled = await restarted.Credentials.RollSigningKeyAsync(new RollSigningKeyRequest { Reason = "key folder copied" });
        var since = Stopwatch.StartNew();
        await RefusedWithinBoundAsync(belize, currentKey, since);
        await RefusedWithinBoundAsync(belize, previousKey, since);

        var jwks = new JsonWebKeySet(await restarted.Http.GetStringAsync(restarted.Issuer + ".well-known/jwks"));
        Assert.Equal([rolled.SigningKeyId], jwks.Keys.Select(k => k.Kid));
        var list = new JsonWebToken(await restarted.Http.GetStringAsync(restarted.Issuer + RevocationListFormat.Path));
        Assert.Equal(new[] { new JsonWebToken(currentKey).Kid, new JsonWebToken(previousKey).Kid }.Order(),
            list.GetPayloadValue<List<string>>(RevocationListFormat.RevokedKeysClaim).Order());
    }

    [Fact]
    public async Task A_list_signed_later_is_taken_even_with_a_lower_version_as_after_a_restore_and_an_earlier_or_future_dated_one_never()
    {
        using var key = RSA.Create(2048);
        var signing = new RsaSecurityKey(key) { KeyId = "identity-key" };
        const string Issuer = "https://identity.mirps.example/";
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        string List(long version, long issuedAt, string revoked) => new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            TokenType = RevocationListFormat.TokenType,
            Issuer = Issuer,
            Claims = new Dictionary<string, object>
            {
                ["ver"] = version, ["iat"] = issuedAt, ["revoked_keys"] = new List<object>(),
                ["clients"] = new Dictionary<string, object> { [revoked] = issuedAt },
            },
            SigningCredentials = new SigningCredentials(signing, SecurityAlgorithms.RsaSha256),
        });
        var list = new RevocationList();

        Assert.Null(await list.TryApplyAsync(List(version: 900, issuedAt: now - 60, "before-restore"), Issuer, [signing]));
        // The identity server's store restored from a backup: its audit ids, and so versions, start lower.
        Assert.Null(await list.TryApplyAsync(List(version: 12, issuedAt: now, "after-restore"), Issuer, [signing]));
        Assert.True(list.Current.ClientCutoffs.ContainsKey("after-restore"));
        // A list signed before the one held is a replay, whatever its version.
        Assert.Contains("replay", await list.TryApplyAsync(List(version: 5_000, issuedAt: now - 30, "replayed"), Issuer, [signing]));
        Assert.False(list.Current.ClientCutoffs.ContainsKey("replayed"));
        // Nor can a list dated far ahead (signed with a key stolen before it was rolled) outrank the genuine ones to come,
        Assert.Contains("ahead of this node's clock", await list.TryApplyAsync(List(version: 13, issuedAt: now + 86_400, "future"), Issuer, [signing]));
        // and one dated just within the clock skew, once taken, does not hold back the genuine list that follows.
        Assert.Null(await list.TryApplyAsync(List(version: 99_999, issuedAt: now + 240, "thief"), Issuer, [signing]));
        Assert.Null(await list.TryApplyAsync(List(version: 14, issuedAt: now + 1, "genuine"), Issuer, [signing]));
        Assert.True(list.Current.ClientCutoffs.ContainsKey("genuine"));
    }

    [Fact]
    public void The_default_poll_interval_keeps_revocation_within_a_minute()
    {
        // The identity server rebuilds its list at most once a second; a node sees it at its next poll.
        Assert.True(new NodeOptions().RevocationPollInterval + TimeSpan.FromSeconds(1) <= Bound);
        Assert.True(RevocationExtensions.MaxPollInterval + TimeSpan.FromSeconds(1) <= Bound);
    }

    [Fact]
    public async Task A_revoked_credentials_tokens_already_in_use_are_refused_at_every_node_within_a_minute()
    {
        await using var identity = await TestIdentity.StartAsync();
        await using var belize = await TestNode.StartAsync("BLZ", identity, FastPolling);
        await using var panama = await TestNode.StartAsync("PAN", identity, FastPolling);
        var secretariat = await identity.IssueAsync(Role.Secretariat);
        var other = await identity.IssueAsync(Role.Secretariat);
        var (atBelize, atPanama, untouched) = (await TokenAsync(identity, secretariat, belize), await TokenAsync(identity, secretariat, panama), await TokenAsync(identity, other, belize));
        Assert.Equal(StatusCode.OK, await CallAsync(belize, atBelize));
        Assert.Equal(StatusCode.OK, await CallAsync(panama, atPanama));

        var since = Stopwatch.StartNew();
        await identity.Credentials.RevokeCredentialAsync(new RevokeCredentialRequest { ClientId = secretariat.ClientId, Reason = "leaked" });

        await RefusedWithinBoundAsync(belize, atBelize, since);
        await RefusedWithinBoundAsync(panama, atPanama, since);
        Assert.Equal(StatusCode.Unauthenticated, await CallAsync(panama, atBelize));
        // Another credential's tokens are untouched.
        Assert.Equal(StatusCode.OK, await CallAsync(belize, untouched));
        Assert.Equal(StatusCode.OK, await CallAsync(panama, await TokenAsync(identity, other, panama)));
    }

    [Fact]
    public async Task A_secret_rotated_at_once_cuts_off_the_old_secrets_tokens_and_not_the_new_ones()
    {
        await using var identity = await TestIdentity.StartAsync();
        await using var belize = await TestNode.StartAsync("BLZ", identity, FastPolling);
        await using var panama = await TestNode.StartAsync("PAN", identity, FastPolling);
        var credential = await identity.IssueAsync(Role.State, "BLZ");
        var (atBelize, atPanama) = (await TokenAsync(identity, credential, belize), await TokenAsync(identity, credential, panama));
        Assert.Equal(StatusCode.OK, await CallAsync(belize, atBelize));
        Assert.Equal(StatusCode.OK, await CallAsync(panama, atPanama));

        var since = Stopwatch.StartNew();
        var rotated = await identity.Credentials.RotateSecretAsync(new RotateSecretRequest { ClientId = credential.ClientId });
        // The new secret's first token, asked for the moment the new secret is known.
        var fresh = await TokenAsync(identity, new ClientCredential(credential.ClientId, rotated.ClientSecret), belize);

        await RefusedWithinBoundAsync(belize, atBelize, since);
        await RefusedWithinBoundAsync(panama, atPanama, since);
        Assert.Equal(StatusCode.OK, await CallAsync(belize, fresh));
        Assert.Equal(StatusCode.OK, await CallAsync(panama, await TokenAsync(identity, new ClientCredential(credential.ClientId, rotated.ClientSecret), panama)));
    }

    [Fact]
    public async Task A_rotation_with_a_grace_period_leaves_the_tokens_already_issued_valid()
    {
        await using var identity = await TestIdentity.StartAsync();
        await using var belize = await TestNode.StartAsync("BLZ", identity, FastPolling);
        var credential = await identity.IssueAsync(Role.State, "BLZ");
        var token = await TokenAsync(identity, credential, belize);
        Assert.Equal(StatusCode.OK, await CallAsync(belize, token));

        await identity.Credentials.RotateSecretAsync(new RotateSecretRequest { ClientId = credential.ClientId, GracePeriod = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(TimeSpan.FromHours(1)) });
        await Task.Delay(TimeSpan.FromSeconds(3)); // several polls

        Assert.Equal(StatusCode.OK, await CallAsync(belize, token));
    }

    [Fact]
    public async Task A_compromised_signing_key_rolled_by_an_admin_is_refused_within_a_minute_and_the_new_key_is_accepted()
    {
        await using var identity = await TestIdentity.StartAsync();
        await using var belize = await TestNode.StartAsync("BLZ", identity, FastPolling);
        await using var panama = await TestNode.StartAsync("PAN", identity, FastPolling);
        var credential = await identity.IssueAsync(Role.State, "BLZ");
        var (atBelize, atPanama) = (await TokenAsync(identity, credential, belize), await TokenAsync(identity, credential, panama));
        Assert.Equal(StatusCode.OK, await CallAsync(belize, atBelize));
        Assert.Equal(StatusCode.OK, await CallAsync(panama, atPanama));
        var oldAdmin = await identity.AdminTokens.GetTokenAsync();
        // The thief's copy of the signing key, taken before the admin notices.
        var kid = new JsonWebToken(atBelize).Kid;
        using var stolen = RSA.Create();
        stolen.ImportFromPem(await File.ReadAllTextAsync(Path.Combine(identity.DataDirectory, "keys", kid + ".pem")));

        var since = Stopwatch.StartNew();
        var rolled = await identity.Credentials.RollSigningKeyAsync(new RollSigningKeyRequest { Reason = "key file copied" });

        Assert.Equal(kid, rolled.CompromisedKeyId);
        var jwks = new JsonWebKeySet(await identity.Http.GetStringAsync(identity.Issuer + ".well-known/jwks"));
        Assert.DoesNotContain(jwks.Keys, k => k.Kid == kid);
        Assert.Contains(jwks.Keys, k => k.Kid == rolled.SigningKeyId);
        Assert.False(File.Exists(Path.Combine(identity.DataDirectory, "keys", kid + ".pem")));
        // A token the thief mints after the roll, with fresh times and the same claims.
        var forged = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            TokenType = "at+jwt",
            Claims = new JsonWebToken(atBelize).Claims.Where(c => c.Type is not ("exp" or "iat" or "nbf" or "jti")).ToDictionary(c => c.Type, object (c) => c.Value),
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(stolen) { KeyId = kid }, SecurityAlgorithms.RsaSha256),
        });

        await RefusedWithinBoundAsync(belize, atBelize, since);
        await RefusedWithinBoundAsync(panama, atPanama, since);
        Assert.Equal(StatusCode.Unauthenticated, await CallAsync(belize, forged));
        Assert.Equal(StatusCode.Unauthenticated, await CallAsync(panama, forged));
        // The identity server's own admin API refuses the compromised key's tokens at once.
        var refused = await Assert.ThrowsAsync<RpcException>(() => identity.CredentialsWith(oldAdmin).ListCredentialsAsync(new ListCredentialsRequest()).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);

        // Tokens issued now are signed by the new key and accepted everywhere.
        var fresh = await TokenAsync(identity, credential, belize);
        Assert.Equal(rolled.SigningKeyId, new JsonWebToken(fresh).Kid);
        Assert.Equal(StatusCode.OK, await CallAsync(belize, fresh));
        Assert.Equal(StatusCode.OK, await CallAsync(panama, await TokenAsync(identity, credential, panama)));
        var (_, adminBody) = await identity.RequestTokenAsync(identity.Admin, MirpsAuth.AdminScope);
        var audit = await identity.CredentialsWith(adminBody.GetProperty("access_token").GetString()).ListAuditEventsAsync(new ListAuditEventsRequest());
        Assert.Contains(audit.Events, e => e.Action == "RollSigningKey" && e.Detail.Contains(kid) && e.Detail.Contains("key file copied"));

        // After a restart the compromised key is neither loaded nor published, and still listed as revoked.
        await using var restarted = await identity.RestartAsync();
        var list = new JsonWebToken(await restarted.Http.GetStringAsync(restarted.Issuer + RevocationListFormat.Path));
        Assert.Contains(kid, list.GetPayloadValue<List<string>>(RevocationListFormat.RevokedKeysClaim));
        Assert.DoesNotContain(new JsonWebKeySet(await restarted.Http.GetStringAsync(restarted.Issuer + ".well-known/jwks")).Keys, k => k.Kid == kid);
        Assert.Equal(rolled.SigningKeyId, new JsonWebToken(await TokenAsync(restarted, credential)).Kid);
    }

    [Fact]
    public async Task Rolling_the_signing_key_under_concurrent_token_and_key_set_requests_fails_none_of_them()
    {
        await using var identity = await TestIdentity.StartAsync();
        var credential = await identity.IssueAsync(Role.State, "BLZ");
        using var stop = new CancellationTokenSource();
        var failures = new List<string>();
        var kids = new HashSet<string>();
        async Task LoopAsync()
        {
            while (!stop.IsCancellationRequested)
            {
                var (status, body) = await identity.RequestTokenAsync(credential, MirpsAuth.ReadScope);
                var jwks = new JsonWebKeySet(await identity.Http.GetStringAsync(identity.Issuer + ".well-known/jwks"));
                lock (failures)
                {
                    if (status != 200 || jwks.Keys.Count == 0)
                    {
                        failures.Add($"{status} {body} / {jwks.Keys.Count} keys");
                    }
                    else
                    {
                        kids.Add(new JsonWebToken(body.GetProperty("access_token").GetString()).Kid);
                    }
                }
            }
        }
        var loops = Enumerable.Range(0, 4).Select(_ => Task.Run(LoopAsync)).ToList();

        var first = await identity.Credentials.RollSigningKeyAsync(new RollSigningKeyRequest { Reason = "drill" });
        var (_, admin) = await identity.RequestTokenAsync(identity.Admin, MirpsAuth.AdminScope);
        var second = await identity.CredentialsWith(admin.GetProperty("access_token").GetString()).RollSigningKeyAsync(new RollSigningKeyRequest { Reason = "drill again" });
        await Task.Delay(300);
        await stop.CancelAsync();
        await Task.WhenAll(loops);

        Assert.Empty(failures);
        Assert.Contains(second.SigningKeyId, kids);
        Assert.Equal(first.SigningKeyId, second.CompromisedKeyId);
        var list = new JsonWebToken(await identity.Http.GetStringAsync(identity.Issuer + RevocationListFormat.Path));
        Assert.Equal(second.SigningKeyId, list.Kid);
        Assert.Equal([first.CompromisedKeyId, second.CompromisedKeyId], list.GetPayloadValue<List<string>>(RevocationListFormat.RevokedKeysClaim));
    }

    [Fact]
    public async Task The_node_keeps_its_revocation_list_and_serves_valid_tokens_while_the_identity_server_is_down()
    {
        var identity = await TestIdentity.StartAsync();
        try
        {
            await using var belize = await TestNode.StartAsync("BLZ", identity, FastPolling);
            var revoked = await identity.IssueAsync(Role.Secretariat);
            var kept = await identity.IssueAsync(Role.Secretariat);
            var revokedToken = await TokenAsync(identity, revoked, belize);
            Assert.Equal(StatusCode.OK, await CallAsync(belize, revokedToken));
            await identity.Credentials.RevokeCredentialAsync(new RevokeCredentialRequest { ClientId = revoked.ClientId });
            await RefusedWithinBoundAsync(belize, revokedToken, Stopwatch.StartNew());
            // Obtained now, presented only once the identity server is down: validated from the cached keys.
            var keptToken = await TokenAsync(identity, kept, belize);

            await identity.StopAsync();
            await Task.Delay(TimeSpan.FromSeconds(3)); // several failed polls

            Assert.Equal(StatusCode.OK, await CallAsync(belize, keptToken));
            Assert.Equal(StatusCode.Unauthenticated, await CallAsync(belize, revokedToken));
        }
        finally
        {
            await identity.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_tampered_unsigned_foreign_or_replayed_revocation_list_is_not_accepted()
    {
        await using var identity = await TestIdentity.StartAsync();
        var keys = new JsonWebKeySet(await identity.Http.GetStringAsync(identity.Issuer + ".well-known/jwks")).GetSigningKeys();
        var first = await identity.Http.GetStringAsync(identity.Issuer + RevocationListFormat.Path);
        var credential = await identity.IssueAsync(Role.State, "BLZ");
        await identity.Credentials.RevokeCredentialAsync(new RevokeCredentialRequest { ClientId = credential.ClientId });
        await Task.Delay(TimeSpan.FromSeconds(1.2)); // the server rebuilds its list at most once a second
        var second = await identity.Http.GetStringAsync(identity.Issuer + RevocationListFormat.Path);
        var parts = second.Split('.');
        var payload = Base64UrlEncoder.Decode(parts[1]);
        Assert.Contains(credential.ClientId, payload);

        // Payload changed (the revoked credential removed), signature kept.
        var tampered = parts[0] + "." + Base64UrlEncoder.Encode(payload.Replace(credential.ClientId, "nobody-state-0000000000")) + "." + parts[2];
        var unsigned = Base64UrlEncoder.Encode($$"""{"alg":"none","typ":"{{RevocationListFormat.TokenType}}"}""") + "." + parts[1] + ".";
        using var stranger = RSA.Create(2048);
        var foreign = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            TokenType = RevocationListFormat.TokenType,
            Issuer = identity.Issuer,
            Claims = new Dictionary<string, object> { ["ver"] = 1_000_000L, ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(), ["clients"] = new Dictionary<string, object>(), ["revoked_keys"] = new List<object>() },
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(stranger) { KeyId = new JsonWebToken(second).Kid }, SecurityAlgorithms.RsaSha256),
        });
        // A genuine access token, signed by the same key, is not a revocation list (typ at+jwt).
        var accessToken = await TokenAsync(identity, await identity.IssueAsync(Role.Secretariat));

        var list = new RevocationList();
        foreach (var bad in new[] { tampered, unsigned, foreign, accessToken, "garbage" })
        {
            Assert.NotNull(await list.TryApplyAsync(bad, identity.Issuer, keys));
            Assert.Equal(0, list.Current.Version);
        }
        // From another issuer: refused.
        Assert.NotNull(await list.TryApplyAsync(second, "https://identity.elsewhere.example/", keys));

        Assert.Null(await list.TryApplyAsync(second, identity.Issuer, keys));
        Assert.True(list.Current.ClientCutoffs.ContainsKey(credential.ClientId));
        // The older list, replayed, does not bring the revoked credential back.
        var replay = await list.TryApplyAsync(first, identity.Issuer, keys);
        Assert.NotNull(replay);
        Assert.Contains("replay", replay);
        Assert.True(list.Current.ClientCutoffs.ContainsKey(credential.ClientId));
    }

    [Fact]
    public async Task Cli_roll_key_marks_the_signing_key_compromised()
    {
        await using var identity = await TestIdentity.StartAsync();
        var before = new JsonWebToken(await identity.AdminTokens.GetTokenAsync()).Kid;

        var (code, output, error) = await CliRunner.RunAsync(["credentials", "roll-key", "--reason", "drill", "--identity", identity.Issuer,
            "--admin-api", identity.GrpcAddress, "--credential", Path.Combine(identity.DataDirectory, "admin-credential.json")]);

        Assert.True(code == CliApp.Ok, error + output);
        Assert.Contains($"Marked signing key {before} compromised at ", output);
        var jwks = new JsonWebKeySet(await identity.Http.GetStringAsync(identity.Issuer + ".well-known/jwks"));
        Assert.DoesNotContain(jwks.Keys, k => k.Kid == before);
    }
}
