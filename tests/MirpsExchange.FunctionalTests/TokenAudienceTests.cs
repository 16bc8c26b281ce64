using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Core;
using Microsoft.IdentityModel.JsonWebTokens;
using Mirps.Auth;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// A token is worth something only at the node it was issued for: every node has its own audience
/// (<c>mirps-node:BLZ</c>, <c>mirps-node:secretariat</c>), so a node that receives a token (a pulling
/// Secretariat's, a reader's) cannot replay it anywhere else.
/// </summary>
public class TokenAudienceTests
{
    private static async Task<string> TokenAsync(TestIdentity identity, ClientCredential credential, string? resource)
    {
        var (status, body) = await identity.RequestTokenAsync(credential, MirpsAuth.ReadScope, resource);
        Assert.True(status == 200, body.ToString());
        return body.GetProperty("access_token").GetString()!;
    }

    private static GetObservationHistoryRequest History() => new() { Key = KeyOf(Refugees()) };

    [Fact]
    public async Task The_Secretariats_token_for_one_State_replayed_at_another_State_or_at_the_Secretariat_is_unauthenticated()
    {
        await using var belize = await TestNode.StartAsync("BLZ", null, "--Node:Sharing:Default:Readers=secretariat");
        await using var guatemala = await TestNode.StartAsync("GTM");
        await using var secretariat = await TestSecretariat.StartAsync();
        await belize.Observations.SubmitObservationsAsync(Submit(Refugees()));
        var forBelize = await TokenAsync(belize.Identity, await SharedIdentity.CredentialAsync(""), MirpsAuth.NodeAudience("BLZ"));

        // Where it was sent, it reads what Belize shares with the Secretariat alone.
        var read = await belize.ObservationsWith(forBelize).GetObservationHistoryAsync(History());
        Assert.Equal(240, Assert.Single(read.Revisions).Observation.Value);

        // Belize's node (or anyone who captured it there) replays it elsewhere: worth nothing.
        var atGuatemala = await Assert.ThrowsAsync<RpcException>(() => guatemala.ObservationsWith(forBelize).GetObservationHistoryAsync(History()).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, atGuatemala.StatusCode);
        var atSecretariat = await Assert.ThrowsAsync<RpcException>(() => secretariat.RegionalWith(forBelize)
            .GetCompletenessAsync(new GetCompletenessRequest { PeriodFrom = "2023", PeriodTo = "2023" }).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, atSecretariat.StatusCode);

        // The Secretariat's own token works at the Secretariat, and only there.
        var forSecretariat = await TokenAsync(belize.Identity, await SharedIdentity.CredentialAsync(""), MirpsAuth.NodeAudience(MirpsAuth.Secretariat));
        await secretariat.RegionalWith(forSecretariat).GetCompletenessAsync(new GetCompletenessRequest { PeriodFrom = "2023", PeriodTo = "2023" });
        var atBelize = await Assert.ThrowsAsync<RpcException>(() => belize.ObservationsWith(forSecretariat).GetObservationHistoryAsync(History()).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, atBelize.StatusCode);
    }

    [Fact]
    public async Task A_States_token_asked_for_without_a_resource_is_for_its_own_node_only()
    {
        await using var belize = await TestNode.StartAsync("BLZ", null, "--Node:Sharing:Default:Readers=all");
        await using var panama = await TestNode.StartAsync("PAN");
        await belize.Observations.SubmitObservationsAsync(Submit(Refugees()));
        await panama.Observations.SubmitObservationsAsync(Submit(Refugees("PAN")));
        var panamaCredential = await SharedIdentity.CredentialAsync("PAN");
        var ownNode = await TokenAsync(panama.Identity, panamaCredential, resource: null);

        Assert.Equal(MirpsAuth.NodeAudience("PAN"), Assert.Single(new JsonWebToken(ownNode).Audiences));
        await panama.ObservationsWith(ownNode).GetObservationHistoryAsync(new GetObservationHistoryRequest { Key = KeyOf(Refugees("PAN")) });
        var atBelize = await Assert.ThrowsAsync<RpcException>(() => belize.ObservationsWith(ownNode).GetObservationHistoryAsync(History()).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, atBelize.StatusCode);

        // Asked for Belize's node, the same credential reads what Belize shares with every State.
        var forBelize = await TokenAsync(panama.Identity, panamaCredential, MirpsAuth.NodeAudience("BLZ"));
        Assert.Equal(240, Assert.Single((await belize.ObservationsWith(forBelize).GetObservationHistoryAsync(History())).Revisions).Observation.Value);
    }

    [Theory]
    [InlineData("two nodes", "invalid_target", new[] { "mirps-node:BLZ", "mirps-node:GTM" })]
    [InlineData("not a node", "invalid_target", new[] { "mirps-node:USA" })]
    // RFC 8707: a resource is an absolute URI; these are not.
    [InlineData("the old shared audience", "invalid_request", new[] { "mirps-node" })]
    [InlineData("the admin API", "invalid_request", new[] { "mirps-identity" })]
    public async Task A_token_for_more_than_one_node_or_for_no_node_is_refused(string what, string expectedError, string[] resources)
    {
        var identity = await SharedIdentity.GetAsync();
        var belize = await SharedIdentity.CredentialAsync("BLZ");
        List<KeyValuePair<string, string>> form =
        [
            new("grant_type", "client_credentials"), new("client_id", belize.ClientId), new("client_secret", belize.ClientSecret),
            new("scope", MirpsAuth.ReadScope), .. resources.Select(r => new KeyValuePair<string, string>("resource", r)),
        ];

        using var response = await identity.Http.PostAsync(identity.TokenEndpoint, new FormUrlEncodedContent(form));
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(400, (int)response.StatusCode);
        Assert.False(body.TryGetProperty("access_token", out _), what);
        Assert.Equal(expectedError, body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task Admin_tokens_are_for_the_identity_server_only()
    {
        var identity = await SharedIdentity.GetAsync();

        var (status, body) = await identity.RequestTokenAsync(identity.Admin, MirpsAuth.AdminScope, MirpsAuth.NodeAudience("BLZ"));
        var (plainStatus, plainBody) = await identity.RequestTokenAsync(identity.Admin, MirpsAuth.AdminScope);

        Assert.Equal(400, status);
        Assert.Equal("invalid_target", body.GetProperty("error").GetString());
        Assert.Equal(200, plainStatus);
        Assert.Equal(MirpsAuth.IdentityAudience, Assert.Single(new JsonWebToken(plainBody.GetProperty("access_token").GetString()).Audiences));
    }
}
