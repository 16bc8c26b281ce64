using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Google.Protobuf.WellKnownTypes;
using Mirps.Auth;
using Mirps.Identity.V1;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.ServiceDefaults;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// HTTP/JSON (gRPC JSON transcoding, the google.api.http routes of protos/) against real nodes, a real Secretariat and
/// the identity server on loopback: the same answers, authentication, sharing policy and errors as gRPC.
/// </summary>
public class HttpJsonTests
{
    /// <summary>The cleartext HTTP/1.1 port of the JSON routes (the gRPC port stays HTTP/2 only).</summary>
    private const string HttpPort = "--Node:HttpPort=0";

    private static readonly JsonParser Parser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(false));

    [Fact]
    public async Task A_json_submit_and_query_over_HTTP_1_1_give_the_same_answers_as_gRPC()
    {
        await using var node = await TestNode.StartAsync("BLZ", null, HttpPort);
        using var http = Client(await node.Tokens.GetTokenAsync());

        // As a national system without gRPC tooling writes it: lowerCamelCase fields, enums by name.
        using var submit = await http.PostAsync(new Uri(new Uri(node.HttpAddress), "/v1/observations:submit"), Json("""
            {"requestId": "0e4b3a52-6f0e-4d7c-9a57-1f7c1b2f7a11", "observations": [
              {"indicatorCode": "REFUGEES", "country": "BLZ", "period": "2023", "sex": "_T", "age": "_T", "countryOfOrigin": "_T", "value": 240, "status": "OBSERVATION_STATUS_NORMAL", "note": "Ministry of Immigration"},
              {"indicatorCode": "REFUGEES", "country": "BLZ", "period": "2023", "sex": "F", "age": "_T", "countryOfOrigin": "_T", "value": 128, "status": "OBSERVATION_STATUS_PROVISIONAL"}]}
            """));

        Assert.Equal(HttpStatusCode.OK, submit.StatusCode);
        Assert.Equal(new Version(1, 1), submit.Version);
        var submitted = SubmitObservationsResponse.Parser.WithDiscardUnknownFields(false).ParseJson(await submit.Content.ReadAsStringAsync());
        Assert.Equal((2, 0, 0, 2L), (submitted.Inserted, submitted.Revised, submitted.Unchanged, submitted.LastOriginSequence));

        var grpc = await node.StreamAsync(new StreamObservationsRequest { IndicatorCodes = { "REFUGEES" }, Sexes = { "F", "_T" } });
        var json = await StreamAsync(http, new Uri(node.HttpAddress), "/v1/observations?indicatorCodes=REFUGEES&sexes=F&sexes=_T");
        Assert.Equal(2, grpc.SelectMany(m => m.Observations).Count());
        Assert.Equal(grpc, json);

        var key = KeyOf(Refugees());
        var history = await node.Observations.GetObservationHistoryAsync(new GetObservationHistoryRequest { Key = key });
        using var historyJson = await http.GetAsync(new Uri(new Uri(node.HttpAddress),
            "/v1/observations:history?key.indicatorCode=REFUGEES&key.country=BLZ&key.period=2023&key.sex=_T&key.age=_T&key.countryOfOrigin=_T"));
        Assert.Equal(HttpStatusCode.OK, historyJson.StatusCode);
        Assert.Equal(history, GetObservationHistoryResponse.Parser.ParseJson(await historyJson.Content.ReadAsStringAsync()));

        // The gRPC port serves the same routes over HTTP/2 (prior knowledge, as `curl --http2-prior-knowledge` does), and gRPC still works there.
        using var h2 = await http.SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(node.Address), "/v1/observations?indicatorCodes=REFUGEES&sexes=F&sexes=_T"))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        });
        Assert.Equal(HttpStatusCode.OK, h2.StatusCode);
        Assert.Equal(grpc, ParseStream(await h2.Content.ReadAsStringAsync()));
        Assert.Equal(2, (await node.QueryAsync()).Count);
    }

    [Fact]
    public async Task Without_a_valid_token_for_this_node_every_json_route_is_401_and_nothing_is_written()
    {
        await using var node = await TestNode.StartAsync("BLZ", null, HttpPort);
        var address = new Uri(node.HttpAddress);
        // A genuine token of the node's own State, but for another node's audience (Panama's).
        using var panamaTokens = new TokenClient(node.Identity.Http, node.Identity.TokenEndpoint, node.Credential,
            $"{MirpsAuth.ReadScope} {MirpsAuth.SubmitScope}", MirpsAuth.NodeAudience("PAN"));
        var forPanama = await panamaTokens.GetTokenAsync();

        foreach (var token in new[] { null, "not-a-token", forPanama })
        {
            using var http = Client(token);
            using var submit = await http.PostAsync(new Uri(address, "/v1/observations:submit"), Json(JsonFormatter.Default.Format(Submit(Refugees()))));
            using var query = await http.GetAsync(new Uri(address, "/v1/observations"));
            using var catalog = await http.GetAsync(new Uri(address, "/v1/catalog"));
            using var status = await http.GetAsync(new Uri(address, "/v1/sync-status"));
            using var changes = await http.GetAsync(new Uri(address, "/v1/origins/BLZ/changes"));
            Assert.All([submit, query, catalog, status, changes], r => Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode));
        }
        Assert.Equal(0, node.CountRows());

        // The OpenAPI document stays open, as health and reflection do.
        using var anonymous = Client(null);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(new Uri(address, HttpJson.DocumentPath))).StatusCode);
    }

    [Fact]
    public async Task Another_States_token_reads_over_json_only_what_the_sharing_policy_gives_it_as_over_gRPC()
    {
        // REFUGEES is shared with Costa Rica only; ASYLUM_APPLICATIONS with every State.
        await using var node = await TestNode.StartAsync("BLZ", null,
            [HttpPort, "--Node:Sharing:Indicators:REFUGEES:Readers=CRI", "--Node:Sharing:Indicators:ASYLUM_APPLICATIONS:Readers=all"]);
        var applications = Refugees(value: 100);
        applications.IndicatorCode = "ASYLUM_APPLICATIONS";
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240), applications));
        using var panamaTokens = node.TokensFor(await SharedIdentity.CredentialAsync("PAN"));
        using var panama = Client(await panamaTokens.GetTokenAsync());
        using var costaRicaTokens = node.TokensFor(await SharedIdentity.CredentialAsync("CRI"));
        using var costaRica = Client(await costaRicaTokens.GetTokenAsync());
        var address = new Uri(node.HttpAddress);

        // Panama asks for everything, for REFUGEES by name, for its history and for the change feed.
        var panamaAll = await StreamAsync(panama, address, "/v1/observations");
        var panamaRefugees = await StreamAsync(panama, address, "/v1/observations?indicatorCodes=REFUGEES&countries=BLZ");
        using var panamaHistory = await panama.GetAsync(new Uri(address,
            "/v1/observations:history?key.indicatorCode=REFUGEES&key.country=BLZ&key.period=2023&key.sex=_T&key.age=_T&key.countryOfOrigin=_T"));
        using var panamaFeed = await panama.GetAsync(new Uri(address, "/v1/origins/BLZ/changes"));

        Assert.Equal(["ASYLUM_APPLICATIONS|100"], panamaAll.SelectMany(m => m.Observations).Select(Show));
        Assert.Empty(panamaRefugees.SelectMany(m => m.Observations));
        Assert.Equal(HttpStatusCode.NotFound, panamaHistory.StatusCode);
        var feedText = await panamaFeed.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, panamaFeed.StatusCode);
        Assert.DoesNotContain("240", feedText, StringComparison.Ordinal);
        // The same as Panama's gRPC answer; and Costa Rica, whom the policy names, does read REFUGEES.
        using var panamaChannel = node.ChannelWith(panamaTokens.ToCallCredentials());
        var panamaGrpc = new List<StreamObservationsResponse>();
        using (var call = new ObservationService.ObservationServiceClient(panamaChannel).StreamObservations(new StreamObservationsRequest(), deadline: DateTime.UtcNow.AddSeconds(30)))
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
                panamaGrpc.Add(call.ResponseStream.Current);
            }
        }
        Assert.Equal(panamaGrpc, panamaAll);
        Assert.Equal(["ASYLUM_APPLICATIONS|100", "REFUGEES|240"], (await StreamAsync(costaRica, address, "/v1/observations")).SelectMany(m => m.Observations).Select(Show));
    }

    [Fact]
    public async Task A_bad_batch_is_400_with_the_BadRequest_details_naming_row_and_field_and_nothing_is_written()
    {
        await using var node = await TestNode.StartAsync("BLZ", null, HttpPort);
        using var http = Client(await node.Tokens.GetTokenAsync());
        var bad = Refugees(sex: "F", value: 128);
        bad.Period = "2023-13";

        using var response = await http.PostAsync(new Uri(new Uri(node.HttpAddress), "/v1/observations:submit"),
            Json(JsonFormatter.Default.Format(Submit(Refugees(), bad))));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        var status = new JsonParser(JsonParser.Settings.Default.WithTypeRegistry(TypeRegistry.FromMessages(Google.Rpc.BadRequest.Descriptor, Google.Rpc.ErrorInfo.Descriptor)))
            .Parse<Google.Rpc.Status>(body);
        Assert.Equal((int)Grpc.Core.StatusCode.InvalidArgument, status.Code);
        var badRequest = Assert.Single(status.Details, d => d.Is(Google.Rpc.BadRequest.Descriptor)).Unpack<Google.Rpc.BadRequest>();
        var violation = Assert.Single(badRequest.FieldViolations);
        Assert.Equal("observations[1].period", violation.Field);
        Assert.NotEmpty(violation.Description);
        Assert.Equal(0, node.CountRows());
        Assert.Empty(await node.QueryAsync());
    }

    [Fact]
    public async Task A_json_body_over_the_receive_limit_is_refused_before_it_is_read_whole_and_gRPC_keeps_its_own_limit()
    {
        // A 64 KiB limit, and 2,000 valid observations over it (in protobuf too): a State cannot make the node read a
        // larger body over JSON than over gRPC (without the limit, Kestrel's default of about 28.6 MiB would apply).
        await using var node = await TestNode.StartAsync("BLZ", null, HttpPort, "--Grpc:MaxReceiveMessageBytes=65536");
        using var http = Client(await node.Tokens.GetTokenAsync());
        var large = Submit([.. DistinctRefugees(2_000)]);
        Assert.True(large.CalculateSize() > 65536);

        using var response = await http.PostAsync(new Uri(new Uri(node.HttpAddress), "/v1/observations:submit"), Json(JsonFormatter.Default.Format(large)));

        var refusal = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{response.StatusCode}: {refusal}");
        Assert.Contains("too large", refusal, StringComparison.Ordinal);
        Assert.Equal(0, node.CountRows());
        // A gRPC content type does not lift the limit: transcoding reads application/grpc+json as JSON ("+json"), and the limit is
        // decided by the endpoint matched (an HTTP/JSON route), not by what the client calls its body.
        using (var disguised = Json(JsonFormatter.Default.Format(large)))
        {
            disguised.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc+json");
            using var refused = await http.PostAsync(new Uri(new Uri(node.HttpAddress), "/v1/observations:submit"), disguised);
            var why = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.BadRequest, $"{refused.StatusCode}: {why}");
            Assert.Contains("too large", why, StringComparison.Ordinal);
            Assert.Equal(0, node.CountRows());
        }
        // Under the limit both ways work; gRPC's own limit still refuses a large message with RESOURCE_EXHAUSTED.
        using var small = await http.PostAsync(new Uri(new Uri(node.HttpAddress), "/v1/observations:submit"), Json(JsonFormatter.Default.Format(Submit(Refugees()))));
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        var grpc = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => node.Observations.SubmitObservationsAsync(large).ResponseAsync);
        Assert.Equal(Grpc.Core.StatusCode.ResourceExhausted, grpc.StatusCode);
        Assert.Equal(1, node.CountRows());
    }

    [Fact]
    public async Task The_Secretariats_regional_figures_over_json_equal_its_gRPC_answer()
    {
        await using var secretariat = await TestSecretariat.StartAsync(HttpPort);
        await secretariat.ReplicateAsync(DateTimeOffset.UtcNow.AddDays(-1), [Refugees("BLZ", value: 240), Refugees("CRI", value: 300)]);
        using var http = Client(await secretariat.TokenAsync());

        var asOf = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow);
        var grpc = await secretariat.Regional.GetRegionalValueAsync(new GetRegionalValueRequest { IndicatorCode = "REFUGEES", Period = "2023", Breakdown = Breakdown.Sex, AsOfTime = asOf });
        using var response = await http.GetAsync(new Uri(new Uri(secretariat.HttpAddress),
            $"/v1/regional/indicators/REFUGEES/periods/2023/value?breakdown=BREAKDOWN_SEX&asOfTime={Uri.EscapeDataString(asOf.ToDateTime().ToString("O"))}"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var json = GetRegionalValueResponse.Parser.ParseJson(await response.Content.ReadAsStringAsync());
        Assert.Equal(540, Assert.Single(json.Cells, c => c.Sex == "_T").Value);
        Assert.Equal(grpc, json);
    }

    [Fact]
    public async Task The_OpenAPI_document_of_each_process_lists_its_routes()
    {
        await using var node = await TestNode.StartAsync("BLZ", null, HttpPort);
        await using var secretariat = await TestSecretariat.StartAsync(HttpPort);
        var identity = await SharedIdentity.GetAsync();
        using var http = Client(null);

        var nodeRoutes = await RoutesAsync(http, new Uri(node.HttpAddress));
        var secretariatRoutes = await RoutesAsync(http, new Uri(secretariat.HttpAddress));
        var identityRoutes = await RoutesAsync(http, new Uri(identity.Issuer));

        string[] nodeExpected =
        [
            "get /v1/catalog", "post /v1/observations:submit", "post /v1/observations:validate", "get /v1/observations",
            "get /v1/observations:history", "post /v1/observations:delete", "get /v1/origins/{origin}/changes", "get /v1/sync-status",
            "post /v1/approvals:approve", "post /v1/approvals:unapprove", "post /v1/approvals:accept", "post /v1/approvals:reject",
            "get /v1/approvals", "get /v1/origins/{origin}/lifecycle-entries",
            "post /v1/webhooks", "get /v1/webhooks", "delete /v1/webhooks/{subscriptionId}", "get /v1/webhooks/{subscriptionId}/deliveries",
        ];
        Assert.Equal(nodeExpected.Order(), nodeRoutes.Order());
        Assert.Equal(nodeExpected.Concat(
        [
            "get /v1/regional/indicators/{indicatorCode}/periods/{period}/value", "get /v1/regional/periods/{period}/protection-rates",
            "get /v1/regional/indicators/{indicatorCode}/periods/{period}/change", "get /v1/regional/completeness", "get /v1/regional/validation-report",
            "get /v1/regional/reporting-calendar", "get /v1/regional/timeliness",
        ]).Order(), secretariatRoutes.Order());
        Assert.Contains("post /v1/credentials", identityRoutes);
        Assert.Contains("get /v1/credentials", identityRoutes);
        Assert.Contains("get /v1/accounts", identityRoutes);
        Assert.Contains("post /v1/log-keys/{keyId}:retire", identityRoutes);
        Assert.Equal(17, identityRoutes.Count); // CredentialService 10, AccountService 7
        // Each route described with its comment in protos/.
        var document = await http.GetStringAsync(new Uri(new Uri(node.HttpAddress), HttpJson.DocumentPath));
        Assert.Contains("Validates a batch against the catalogue and writes it in one transaction", document);
    }

    [Fact]
    public async Task The_identity_servers_admin_API_answers_json_on_its_OAuth2_port_with_an_admin_token_only()
    {
        var identity = await SharedIdentity.GetAsync();
        var address = new Uri(identity.Issuer);
        using var admin = Client(await identity.AdminTokens.GetTokenAsync());
        using var state = Client(await node_token(identity));

        using var listed = await admin.GetAsync(new Uri(address, "/v1/credentials?pageSize=100"));
        using var refused = await state.GetAsync(new Uri(address, "/v1/credentials"));

        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        var credentials = ListCredentialsResponse.Parser.ParseJson(await listed.Content.ReadAsStringAsync());
        Assert.NotEmpty(credentials.Credentials);
        Assert.True(refused.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden, $"a State's token got {refused.StatusCode}");
        // People's accounts too (AccountService): listed with the admin token, refused with a State's.
        using var accounts = await admin.GetAsync(new Uri(address, "/v1/accounts"));
        using var accountsRefused = await state.GetAsync(new Uri(address, "/v1/accounts"));
        Assert.Equal(HttpStatusCode.OK, accounts.StatusCode);
        Mirps.Identity.V1.ListAccountsResponse.Parser.ParseJson(await accounts.Content.ReadAsStringAsync());
        Assert.True(accountsRefused.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden, $"a State's token got {accountsRefused.StatusCode}");

        static async Task<string> node_token(TestIdentity identity)
        {
            using var tokens = new TokenClient(identity.Http, identity.TokenEndpoint, await SharedIdentity.CredentialAsync("BLZ"), MirpsAuth.ReadScope);
            return await tokens.GetTokenAsync();
        }
    }

    // ---- Helpers. ----

    private static string Show(StoredObservation s) => $"{s.Observation.IndicatorCode}|{s.Observation.Value}";

    /// <summary>An HTTP/1.1 client as curl is by default, with this bearer token (or none).</summary>
    private static HttpClient Client(string? token)
    {
        var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        if (token is not null)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return http;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>A server-streaming route's answer: its messages, as JSON transcoding writes them (<see cref="ParseStream"/>).</summary>
    private static async Task<List<StreamObservationsResponse>> StreamAsync(HttpClient http, Uri address, string path)
    {
        using var response = await http.GetAsync(new Uri(address, path));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {response.StatusCode} {body}");
        return ParseStream(body);
    }

    /// <summary>The messages of a streamed answer: one JSON object per message, each on its own line.</summary>
    private static List<StreamObservationsResponse> ParseStream(string body) =>
        [.. body.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(line => Parser.Parse<StreamObservationsResponse>(line))];

    /// <summary>"verb /path" for every operation of the process's OpenAPI document.</summary>
    private static async Task<List<string>> RoutesAsync(HttpClient http, Uri address)
    {
        using var response = await http.GetAsync(new Uri(address, HttpJson.DocumentPath));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return [.. document.RootElement.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Where(o => o.Name is "get" or "post" or "put" or "patch" or "delete").Select(o => $"{o.Name} {path.Name}"))];
    }
}

/// <summary>HTTP/JSON over TLS: one port serves gRPC and JSON (ALPN), and a token is worth something only with the client certificate it is bound to.</summary>
public class HttpJsonTlsTests(TlsFederation federation) : IClassFixture<TlsFederation>
{
    [Fact]
    public async Task Over_TLS_the_node_serves_json_on_its_one_port_over_HTTP_1_1_and_2_only_with_the_certificate_the_token_is_bound_to()
    {
        var node = federation.Node;
        var token = await node.Tokens.GetTokenAsync();
        var catalog = new Uri(new Uri(node.Address), "/v1/catalog");
        Assert.Equal(node.Address, node.HttpAddress);

        foreach (var version in new[] { HttpVersion.Version11, HttpVersion.Version20 })
        {
            using var own = Client(token, node.ClientCertificate);
            using var response = await own.SendAsync(new HttpRequestMessage(HttpMethod.Get, catalog) { Version = version, VersionPolicy = HttpVersionPolicy.RequestVersionExact });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(version, response.Version);
            Assert.Equal((await node.Catalog.GetCatalogAsync(new Mirps.Catalog.V1.GetCatalogRequest())).Digest,
                Mirps.Catalog.V1.GetCatalogResponse.Parser.ParseJson(await response.Content.ReadAsStringAsync()).Digest);
        }
        // The same token replayed over JSON by someone holding Panama's certificate, or none: refused, as over gRPC.
        using var panama = federation.Identity.ClientCertificate("PAN");
        foreach (var certificate in new[] { panama, null })
        {
            using var replay = Client(token, certificate);
            using var response = await replay.GetAsync(catalog);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
    }

    private HttpClient Client(string token, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate)
    {
        var http = new HttpClient(Mirps.Tls.FederationTrust.CreateHandler(federation.Ca, certificate)) { Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }
}
