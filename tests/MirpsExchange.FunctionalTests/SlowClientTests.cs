using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Mirps.Identity.V1;
using MirpsExchange.FunctionalTests.Infrastructure;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// Slow-loris clients against a real node on 127.0.0.1, with raw sockets: a request whose headers or body trickle in is cut within
/// a bound (Http:RequestHeadersTimeout, Http:MinRequestBodyBytesPerSecond, Http:RequestBodyTimeout), on the web upload page and on
/// the HTTP/JSON routes, even when it trickles faster than Kestrel's default minimum rate (240 B/s); one account cannot hold every
/// upload slot (Web:MaxConcurrentUploadsPerAccount); and a normal upload still works.
/// </summary>
public class SlowClientTests
{
    private const string Csv = "indicator_code,country,period,sex,age,country_of_origin,value,status,note\nREFUGEES,CRI,2023,_T,_T,_T,1000,,\n";

    /// <summary>The longest a trickled request may live in these tests: the configured bound (4 or 8 s) plus Kestrel's heartbeat and a loaded machine's slack.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Sends <paramref name="head"/> at once, then <paramref name="trickle"/> in pieces of <paramref name="piece"/> bytes every
    /// <paramref name="every"/>, until the server closes the connection (or <paramref name="giveUp"/> passes): how long it held on.
    /// </summary>
    private static async Task<TimeSpan> TrickleAsync(int port, byte[] head, byte[] trickle, int piece, TimeSpan every, TimeSpan giveUp)
    {
        using var socket = new TcpClient();
        await socket.ConnectAsync(IPAddress.Loopback, port);
        var stream = socket.GetStream();
        var clock = Stopwatch.StartNew();
        // The server's answer, if any, and then its close: read to the end.
        var closed = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            try
            {
                while (await stream.ReadAsync(buffer) > 0)
                {
                }
            }
            catch (IOException)
            {
            }
            return clock.Elapsed;
        });
        try
        {
            await stream.WriteAsync(head);
            for (var sent = 0; sent < trickle.Length && !closed.IsCompleted && clock.Elapsed < giveUp; sent += piece)
            {
                await stream.WriteAsync(trickle.AsMemory(sent, Math.Min(piece, trickle.Length - sent)));
                await Task.WhenAny(closed, Task.Delay(every));
            }
        }
        catch (IOException)
        {
            // Cut while writing.
        }
        var ended = await Task.WhenAny(closed, Task.Delay(giveUp - clock.Elapsed > TimeSpan.Zero ? giveUp - clock.Elapsed : TimeSpan.Zero));
        return ended == closed ? await closed : TimeSpan.MaxValue;
    }

    private static byte[] Head(string method, string path, int port, string headers, long length) =>
        Encoding.ASCII.GetBytes($"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}Content-Length: {length}\r\n\r\n");

    private static async Task<(TestNode Node, PersonSignIn Person, string Address, int Port)> StartAsync(string account, params string[] args)
    {
        var identity = await SharedIdentity.GetAsync();
        var port = WebApp.FreePort();
        var clientId = await WebApp.RegisterClientAsync(identity, $"http://127.0.0.1:{port}");
        var node = await TestNode.StartAsync("CRI", null, [$"--Node:HttpPort={port}", $"--Web:ClientId={clientId}", .. args]);
        var submitter = await WebApp.ReadyAccountAsync(identity, clientId, account, AccountKind.Submitter, "CRI");
        var person = new PersonSignIn(identity, clientId);
        (await person.WebSignInAsync(node.HttpAddress, "%2Fupload", submitter, WebApp.Password)).Dispose();
        return (node, person, node.HttpAddress.TrimEnd('/'), port);
    }

    private static async Task AssertUploadWorksAsync(PersonSignIn person, string address, string name)
    {
        var (body, type) = await WebHardeningTests.UploadFormAsync(person, address, name, Encoding.UTF8.GetBytes(Csv));
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = type;
        using var response = await person.PostAsync($"{address}/upload/validate", content);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        using var page = await person.GetAsync(address + response.Headers.Location!.OriginalString);
        Assert.Contains("El archivo es válido", WebUtility.HtmlDecode(await page.Content.ReadAsStringAsync()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_upload_trickled_slowly_or_just_above_Kestrels_minimum_rate_is_cut_within_the_bound_and_frees_the_slot_for_a_normal_upload()
    {
        var (node, person, address, port) = await StartAsync("loris.cri", "--Http:RequestBodyTimeout=00:00:08", "--Web:MaxConcurrentUploads=1");
        await using var _ = node;
        using var __ = person;

        // A real form (the page's anti-forgery token, the person's cookies) with a 256 KiB file: the head at once, the file trickled.
        var (form, type) = await WebHardeningTests.UploadFormAsync(person, address, "lenta.csv", Encoding.UTF8.GetBytes(Csv + new string(' ', 256 * 1024)));
        var head = Head("POST", "/upload/validate", port, $"Cookie: {person.CookieHeader(address)}\r\nContent-Type: {type}\r\n", form.Length);
        var opening = form.AsSpan(0, 1024).ToArray();
        var rest = form.AsSpan(1024).ToArray();

        // A few bytes a second: below every minimum rate.
        var slow = await TrickleAsync(port, [.. head, .. opening], rest, piece: 4, TimeSpan.FromSeconds(1), Bound);
        Assert.True(slow < Bound, $"a trickle of 4 B/s held the upload for {slow}");

        // 2 KB a second: faster than Kestrel's default minimum (240 B/s) and this process's (1 KiB/s), yet it would take two minutes
        // for this file (and hours for one of 8 MiB): the body deadline cuts it.
        var (busyForm, busyType) = await WebHardeningTests.UploadFormAsync(person, address, "otra.csv", Encoding.UTF8.GetBytes(Csv));
        var steady = TrickleAsync(port, [.. head, .. opening], rest, piece: 512, TimeSpan.FromMilliseconds(250), Bound);
        await Task.Delay(TimeSpan.FromSeconds(1));
        // Meanwhile it holds the only reading slot.
        using (var content = new ByteArrayContent(busyForm))
        {
            content.Headers.ContentType = busyType;
            using var busy = await person.PostAsync($"{address}/upload/validate", content);
            Assert.Equal(HttpStatusCode.TooManyRequests, busy.StatusCode);
        }
        var held = await steady;
        Assert.True(held < Bound, $"a trickle of 2 KB/s held the upload for {held}");

        // The slot is free again: a normal upload is read and judged.
        await AssertUploadWorksAsync(person, address, "normal.csv");
    }

    [Fact]
    public async Task One_account_cannot_hold_every_upload_slot_another_account_still_uploads()
    {
        var (node, person, address, _) = await StartAsync("loris2.cri", "--Web:MaxConcurrentUploads=2");
        await using var __ = node;
        using var ___ = person;
        var identity = await SharedIdentity.GetAsync();

        // The first account's upload arrives slowly and holds one of the two slots.
        var resume = new TaskCompletionSource();
        var (slowBody, slowType) = await WebHardeningTests.UploadFormAsync(person, address, "lenta.csv", Encoding.UTF8.GetBytes(Csv));
        var slow = person.PostAsync($"{address}/upload/validate", new WebHardeningTests.StalledContent(slowBody, resume.Task, slowType));
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            Assert.False(slow.IsCompleted);
            // Its second upload meanwhile: 429 and a message that says why, though a slot is free.
            var (body, type) = await WebHardeningTests.UploadFormAsync(person, address, "segunda.csv", Encoding.UTF8.GetBytes(Csv));
            using (var content = new ByteArrayContent(body))
            {
                content.Headers.ContentType = type;
                using var busy = await person.PostAsync($"{address}/upload/validate", content);
                Assert.Equal(HttpStatusCode.TooManyRequests, busy.StatusCode);
                Assert.NotNull(busy.Headers.RetryAfter);
                Assert.Contains("Ya tiene 1 archivo", WebUtility.HtmlDecode(await busy.Content.ReadAsStringAsync()), StringComparison.Ordinal);
            }
            // A colleague's upload takes the other slot.
            var clientId = person.ClientId;
            var colleague = await WebApp.ReadyAccountAsync(identity, clientId, "loris3.cri", AccountKind.Submitter, "CRI");
            using var other = new PersonSignIn(identity, clientId);
            (await other.WebSignInAsync(node.HttpAddress, "%2Fupload", colleague, WebApp.Password)).Dispose();
            await AssertUploadWorksAsync(other, address, "colega.csv");
        }
        finally
        {
            resume.TrySetResult();
        }
        using (var first = await slow)
        {
            Assert.Equal(HttpStatusCode.Redirect, first.StatusCode);
        }
        await AssertUploadWorksAsync(person, address, "despues.csv");
    }

    [Fact]
    public async Task A_gRPC_content_type_on_an_HTTP_JSON_route_does_not_lift_the_body_bound()
    {
        // The bounds are lifted for gRPC calls only, decided by the endpoint routing matched, not by what the client says.
        // application/grpc+json is a gRPC content type (gRPC with a JSON codec), and JSON transcoding reads it as JSON (a "+json"
        // suffix): a client that sent it to an HTTP/JSON route was once exempt and could trickle its body for as long as it liked.
        await using var node = await TestNode.StartAsync("BLZ", null, "--Node:HttpPort=0", "--Http:RequestBodyTimeout=00:00:04");
        var port = new Uri(node.HttpAddress).Port;
        var token = await node.Tokens.GetTokenAsync();
        var json = Encoding.UTF8.GetBytes("""{"observations": []}""" + new string(' ', 256 * 1024));
        foreach (var type in new[] { "application/grpc+json", "application/grpc" })
        {
            var head = Head("POST", "/v1/observations:submit", port, $"Authorization: Bearer {token}\r\nContent-Type: {type}\r\n", json.Length);
            var held = await TrickleAsync(port, head, json, piece: 512, TimeSpan.FromMilliseconds(250), Bound);
            Assert.True(held < Bound, $"a JSON body sent as {type} and trickled at 2 KB/s was held for {held}");
        }

        // A real gRPC call keeps gRPC's own rules: a submit over gRPC still works on the node's gRPC port.
        await node.Observations.SubmitObservationsAsync(Samples.Submit(Samples.Refugees()));
        Assert.Equal(1, node.CountRows());
    }

    [Fact]
    public async Task An_HTTP_JSON_body_or_request_headers_trickled_in_are_cut_within_the_bound()
    {
        await using var node = await TestNode.StartAsync("BLZ", null, "--Node:HttpPort=0", "--Http:RequestBodyTimeout=00:00:04", "--Http:RequestHeadersTimeout=00:00:02");
        var port = new Uri(node.HttpAddress).Port;
        var token = await node.Tokens.GetTokenAsync();

        // A JSON submit of 256 KiB (spaces after the object) at 2 KB/s: Kestrel's default minimum rate alone would let it run two minutes.
        var json = Encoding.UTF8.GetBytes("""{"observations": []}""" + new string(' ', 256 * 1024));
        var head = Head("POST", "/v1/observations:submit", port, $"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n", json.Length);
        var held = await TrickleAsync(port, head, json, piece: 512, TimeSpan.FromMilliseconds(250), Bound);
        Assert.True(held < Bound, $"a JSON body trickled at 2 KB/s was held for {held}");

        // Headers one byte every half second: cut by the request-headers timeout (2 s here; Kestrel's default is 30 s).
        var headers = Encoding.ASCII.GetBytes($"GET /sdmx/rest/data/DF_MIRPS_PROTECTION/all HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nX-Padding: {new string('a', 200)}\r\n\r\n");
        var headersHeld = await TrickleAsync(port, [], headers, piece: 1, TimeSpan.FromMilliseconds(500), Bound);
        Assert.True(headersHeld < TimeSpan.FromSeconds(10), $"headers trickled at 2 B/s were held for {headersHeld}");

        // A normal JSON submit still works.
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(node.HttpAddress), "/v1/observations:submit"))
        {
            Content = new StringContent("""{"requestId": "5d0f6c1e-2b7a-4c3e-9f1a-8e2d4b6a0c55", "observations": [{"indicatorCode": "REFUGEES", "country": "BLZ", "period": "2023", "sex": "_T", "age": "_T", "countryOfOrigin": "_T", "value": 240, "status": "OBSERVATION_STATUS_NORMAL"}]}""",
                Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var response = await http.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }
}
