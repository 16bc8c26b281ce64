using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Mirps.Sync.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.ServiceDefaults;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// Operations (issue 16, item 6): a pull's lag behind its peer in the status call, `mirps sync status`, the metrics
/// (Prometheus scrape and OTLP push) and the health check; the scrape endpoint is off by default and answers on its own port only.
/// </summary>
public partial class OperationsTests
{
    [Fact]
    public async Task A_replica_that_cannot_apply_reports_its_lag_in_status_cli_metrics_and_health_then_recovers()
    {
        await using var collector = await OtlpCollector.StartAsync();
        await using var origin = await TestNode.StartAsync("BLZ", null, ShareWithAll);
        await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 230)));
        await using var replica = await TestNode.StartAsync("PAN", null,
        [
            .. PeerSyncTests.PullArgs(origin.Folder, await SharedIdentity.CredentialAsync(""), origin.Peer),
            "--Node:PeerLagThreshold=00:00:01",
            "--Telemetry:Prometheus:Port=0",
            $"--Telemetry:Otlp:Endpoint={collector.Address}", "--Telemetry:Otlp:Protocol=http/protobuf", "--Telemetry:Otlp:ExportInterval=00:00:00.5",
        ]);
        await PeerSyncTests.ConvergesAsync(origin, replica);
        var caughtUp = await PeerAsync(replica, p => p.AppliedSequence == 1);
        Assert.Equal(1, caughtUp.PeerSequence);
        Assert.Equal(0, caughtUp.SequencesBehind);
        Assert.Equal(HealthStatus.Healthy, await PeersHealthAsync(replica));

        // The replica's store is locked by another writer: it receives the origin's next commit but cannot apply it.
        await using (var blocker = new SqliteConnection($"Data Source={replica.DatabasePath};Pooling=False"))
        {
            await blocker.OpenAsync();
            await using (var hold = blocker.CreateCommand())
            {
                hold.CommandText = "BEGIN IMMEDIATE";
                await hold.ExecuteNonQueryAsync();
            }
            await origin.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240), Refugees(sex: "F", value: 120)));

            var lagging = await PeerAsync(replica, p => p.SequencesBehind == 2 && p.TimeBehind.ToTimeSpan() > TimeSpan.FromSeconds(1));
            Assert.Equal((1, 3, 2), (lagging.AppliedSequence, lagging.PeerSequence, lagging.SequencesBehind));
            Assert.True(lagging.TimeBehind.ToTimeSpan() > TimeSpan.FromSeconds(1), lagging.ToString());
            var health = (await replica.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["peers"];
            Assert.Equal(HealthStatus.Degraded, health.Status);
            Assert.Contains($"BLZ from {origin.Address}: lagging 2 changes", health.Description);

            // The Prometheus scrape, on its own port, names the peer and origin with their lag.
            var scrape = replica.Services.GetRequiredService<PrometheusScrapeEndpoint>();
            using var http = new HttpClient();
            var metrics = await http.GetStringAsync(scrape.Address);
            Assert.Matches(LagLine("mirps_sync_peer_lag_changes", origin.Address, "2"), metrics);
            Assert.Matches(LagLine("mirps_sync_peer_lag_time_seconds", origin.Address, @"[1-9][0-9.]*"), metrics);
            // ...and the node's client ports do not serve it.
            foreach (var other in new[] { replica.Address, replica.HttpAddress }.Distinct())
            {
                using var response = await http.GetAsync(new Uri(new Uri(other), scrape.Address.AbsolutePath));
                Assert.DoesNotContain("mirps_sync_peer_lag", await response.Content.ReadAsStringAsync());
            }

            // `mirps sync status` shows how far behind the pull is.
            var file = Path.Combine(replica.Folder, $"reader-{Guid.NewGuid():N}.json");
            OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(await SharedIdentity.CredentialAsync("PAN")));
            var cli = await CliRunner.RunAsync("sync", "status", "--node", replica.Address, "--node-country", replica.Country, "--identity", replica.Identity.Issuer, "--credential", file);
            Assert.Equal(0, cli.Code);
            Assert.Contains("Behind", cli.Output);
            Assert.Matches(@"2 changes, [1-9][0-9]* s", cli.Output);

            // The OTLP collector receives the same metrics, pushed.
            await collector.ReceivedAsync("mirps.sync.peer.lag.changes");
        }

        // The lock released, the pull applies the commit and the lag goes back to zero.
        await PeerSyncTests.ConvergesAsync(origin, replica);
        var recovered = await PeerAsync(replica, p => p.AppliedSequence == 3);
        Assert.Equal((3, 0, TimeSpan.Zero), (recovered.PeerSequence, recovered.SequencesBehind, recovered.TimeBehind.ToTimeSpan()));
        Assert.Equal(HealthStatus.Healthy, await PeersHealthAsync(replica));
    }

    [Fact]
    public async Task Without_configuration_no_metrics_are_exported_or_served()
    {
        await using var node = await TestNode.StartAsync("BLZ");
        Assert.Null(node.Services.GetService<PrometheusScrapeEndpoint>());
        using var http = new HttpClient();
        foreach (var address in new[] { node.Address, node.HttpAddress }.Distinct())
        {
            using var response = await http.GetAsync(new Uri(new Uri(address), "/metrics"));
            Assert.DoesNotContain("# TYPE", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task The_scrape_port_serves_only_metrics()
    {
        await using var node = await TestNode.StartAsync("BLZ", null, "--Telemetry:Prometheus:Port=0", "--Node:HttpPort=0");
        var scrape = node.Services.GetRequiredService<PrometheusScrapeEndpoint>();
        var port = new Uri($"http://{scrape.Address.Authority}");
        using var http = new HttpClient();
        Assert.Contains("# TYPE", await http.GetStringAsync(scrape.Address));

        // Plain HTTP/1.1 on the scrape port: nothing of the application, with or without a token.
        foreach (var path in new[] { "/", "/health", "/v1/webhooks", "/v1/catalog", "/sdmx/rest/dataflow/MIRPS/DF_MIRPS_PROTECTION/latest", "/data", scrape.Address.AbsolutePath + "/x" })
        {
            using var anonymous = await http.GetAsync(new Uri(port, path));
            Assert.True(anonymous.StatusCode == System.Net.HttpStatusCode.NotFound, $"{path}: {anonymous.StatusCode}");
        }
        var token = await node.Tokens.GetTokenAsync();
        foreach (var path in new[] { "/v1/catalog", "/v1/webhooks", "/sdmx/rest/dataflow/MIRPS/DF_MIRPS_PROTECTION/latest" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(port, path));
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            using var withToken = await http.SendAsync(request);
            Assert.True(withToken.StatusCode == System.Net.HttpStatusCode.NotFound, $"{path} with a token: {withToken.StatusCode}");
        }
        using var submit = new HttpRequestMessage(HttpMethod.Post, new Uri(port, "/v1/observations:submit")) { Content = new StringContent("{}", Encoding.UTF8, "application/json") };
        submit.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var submitted = await http.SendAsync(submit);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, submitted.StatusCode);

        // The client ports still serve the application.
        using var client = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(node.HttpAddress), "/v1/catalog"));
        client.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var served = await http.SendAsync(client);
        Assert.Equal(System.Net.HttpStatusCode.OK, served.StatusCode);
    }

    private static Regex LagLine(string metric, string peer, string value) =>
        new($@"(?m)^{metric}\{{[^}}]*(origin=""BLZ""[^}}]*peer=""{Regex.Escape(peer)}""|peer=""{Regex.Escape(peer)}""[^}}]*origin=""BLZ"")[^}}]*\}} {value}( |$)");

    private static async Task<HealthStatus> PeersHealthAsync(TestNode node) =>
        (await node.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["peers"].Status;

    /// <summary>The replica's only pull once <paramref name="until"/> holds (fails after 20 s).</summary>
    private static async Task<PeerStatus> PeerAsync(TestNode replica, Func<PeerStatus, bool> until)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var peer = Assert.Single((await new SyncService.SyncServiceClient(replica.Channel).GetSyncStatusAsync(new GetSyncStatusRequest())).Peers);
            if (until(peer))
            {
                return peer;
            }
            Assert.True(DateTime.UtcNow < deadline, $"the pull never reached the expected state: {peer}");
            await Task.Delay(100);
        }
    }

    /// <summary>A stand-in OpenTelemetry collector: keeps the bodies of the OTLP/HTTP metric exports it receives.</summary>
    private sealed class OtlpCollector : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly ConcurrentQueue<byte[]> _bodies = new();

        private OtlpCollector(WebApplication app) => _app = app;

        public string Address => _app.Urls.First() + "/v1/metrics";

        public static async Task<OtlpCollector> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var collector = new OtlpCollector(app);
            app.MapPost("/v1/metrics", async (HttpContext context) =>
            {
                using var body = new MemoryStream();
                await context.Request.Body.CopyToAsync(body);
                collector._bodies.Enqueue(body.ToArray());
                return Results.Ok();
            });
            await app.StartAsync();
            return collector;
        }

        /// <summary>Waits (20 s at most) for an export that names <paramref name="metric"/>.</summary>
        public async Task ReceivedAsync(string metric)
        {
            var name = Encoding.UTF8.GetBytes(metric);
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (!_bodies.Any(b => b.AsSpan().IndexOf(name) >= 0))
            {
                Assert.True(DateTime.UtcNow < deadline, $"no OTLP export named {metric} ({_bodies.Count} exports received)");
                await Task.Delay(100);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
