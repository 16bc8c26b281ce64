using System.Net;
using Mirps.Identity.V1;
using MirpsExchange.FunctionalTests.Infrastructure;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The web app against a hostile visitor, with plain HTTP clients (no browser, no automatic redirects) on real
/// processes on 127.0.0.1: no return URL sends a browser off-site, signed-in answers are never stored by a
/// cache, and the cookies stay Secure behind a TLS-terminating proxy.
/// </summary>
public class WebHardeningTests
{
    /// <summary>Return URLs (URL-encoded, as an attacker's link carries them) that a browser would follow to another site if echoed.</summary>
    public static readonly string[] OffSiteReturnUrls =
    [
        "%2F%09%2Fevil.example",        // "/\t/evil.example": browsers strip the tab, landing on //evil.example
        "%2F%0A%2Fevil.example",
        "%2F%0D%2Fevil.example",
        "%2F%09%5Cevil.example",
        "%2F%5C%09evil.example",
        "%2F%2Fevil.example",
        "%2F%5Cevil.example",
        "%5C%5Cevil.example",
        "%09%2F%2Fevil.example",
        "%20%2F%2Fevil.example",
        "~%2F%2Fevil.example",
        "https%3A%2F%2Fevil.example%2F",
        "%2F%00%2Fevil.example",
    ];

    /// <summary>The Location header as sent (raw), resolved as a browser does (tabs and newlines removed, C0 and spaces trimmed, \ read as /): still this site.</summary>
    private static void AssertStaysOnSite(string site, HttpResponseMessage response, string input)
    {
        Assert.True(response.StatusCode == HttpStatusCode.Redirect, $"returnUrl={input}: {(int)response.StatusCode}");
        var raw = string.Join("", response.Headers.NonValidated["Location"]);
        var seen = new string([.. raw.Where(c => c is not ('\t' or '\n' or '\r'))]).Trim([.. Enumerable.Range(0, 33).Select(i => (char)i)]).Replace('\\', '/');
        var target = new Uri(new Uri(site.TrimEnd('/') + "/"), seen);
        Assert.True(target.Authority == new Uri(site).Authority && !raw.Any(char.IsControl),
            $"returnUrl={input} redirected to {raw.Replace("\t", "\\t", StringComparison.Ordinal)} ({target})");
    }

    [Fact]
    public async Task No_return_url_sends_a_browser_off_site_neither_from_the_language_switch_nor_after_a_genuine_sign_in()
    {
        var identity = await SharedIdentity.GetAsync();
        var port = WebApp.FreePort();
        var clientId = await WebApp.RegisterClientAsync(identity, $"http://127.0.0.1:{port}");
        await using var node = await TestNode.StartAsync("CRI", null, $"--Node:HttpPort={port}", $"--Web:ClientId={clientId}");
        var analyst = await WebApp.ReadyAccountAsync(identity, clientId, "redir.cri", AccountKind.Analyst, "CRI");

        // Anyone, not signed in: the language switch.
        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false });
        foreach (var input in OffSiteReturnUrls)
        {
            using var response = await anonymous.GetAsync($"{node.HttpAddress.TrimEnd('/')}/language?to=en&returnUrl={input}");
            AssertStaysOnSite(node.HttpAddress, response, input);
        }
        using (var local = await anonymous.GetAsync($"{node.HttpAddress.TrimEnd('/')}/language?to=en&returnUrl=%2Fshared%3Fperiod%3D2023"))
        {
            Assert.Equal("/shared?period=2023", local.Headers.Location?.OriginalString);
        }

        // A genuine sign-in started from an attacker's link: the person lands on this site, never on the attacker's.
        using var person = new PersonSignIn(identity, clientId);
        foreach (var input in OffSiteReturnUrls)
        {
            using var response = await person.WebSignInAsync(node.HttpAddress, input, analyst, WebApp.Password);
            AssertStaysOnSite(node.HttpAddress, response, input);
        }
        using (var local = await person.WebSignInAsync(node.HttpAddress, "%2Fshared%3Fperiod%3D2023", analyst, WebApp.Password))
        {
            Assert.Equal("/shared?period=2023", local.Headers.Location?.OriginalString);
        }
    }

    [Fact]
    public async Task A_session_made_at_one_States_node_is_no_session_at_another_States_node_on_the_same_machine()
    {
        // Browsers send a cookie to every port of a host: on one machine (devnet, or two nodes behind one name) Panama's
        // session cookie reaches Costa Rica's web app, which must not take it for a session of its own.
        var identity = await SharedIdentity.GetAsync();
        var (panPort, criPort) = (WebApp.FreePort(), WebApp.FreePort());
        var clientId = await WebApp.RegisterClientAsync(identity, $"http://127.0.0.1:{panPort}", $"http://127.0.0.1:{criPort}");
        // Installed once and run twice (as devnet runs every node from one build): one content root for both.
        var install = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "mirps-tests", Guid.NewGuid().ToString("N"))).FullName;
        await using var pan = await TestNode.StartAsync("PAN", null, $"--Node:HttpPort={panPort}", $"--Web:ClientId={clientId}", $"--contentRoot={install}");
        await using var cri = await TestNode.StartAsync("CRI", null, $"--Node:HttpPort={criPort}", $"--Web:ClientId={clientId}", $"--contentRoot={install}");
        var analyst = await WebApp.ReadyAccountAsync(identity, clientId, "cookie.pan", AccountKind.Analyst, "PAN");

        using var person = new PersonSignIn(identity, clientId);
        using (var callback = await person.WebSignInAsync(pan.HttpAddress, "%2Fdata", analyst, WebApp.Password))
        {
            Assert.Equal("/data", callback.Headers.Location?.OriginalString);
        }
        using (var atPanama = await person.GetAsync($"{pan.HttpAddress.TrimEnd('/')}/data"))
        {
            Assert.Equal(HttpStatusCode.OK, atPanama.StatusCode); // signed in at Panama's node: its own data page
        }
        using var atCostaRica = await person.GetAsync($"{cri.HttpAddress.TrimEnd('/')}/data");
        Assert.Equal(HttpStatusCode.Redirect, atCostaRica.StatusCode);
        Assert.StartsWith("/signin", atCostaRica.Headers.Location?.AbsolutePath ?? atCostaRica.Headers.Location?.OriginalString ?? "", StringComparison.Ordinal);
    }

    [Fact]
    public async Task Signed_in_pages_and_the_Secretariats_downloads_are_never_stored_by_a_cache()
    {
        var identity = await SharedIdentity.GetAsync();
        var port = WebApp.FreePort();
        var clientId = await WebApp.RegisterClientAsync(identity, $"http://127.0.0.1:{port}");
        await using var secretariat = await TestSecretariat.StartAsync($"--Node:HttpPort={port}", $"--Web:ClientId={clientId}");
        var analyst = await WebApp.ReadyAccountAsync(identity, clientId, "nostore.sec", AccountKind.Analyst);
        using var person = new PersonSignIn(identity, clientId);
        using (var signedIn = await person.WebSignInAsync(secretariat.HttpAddress, "%2F", analyst, WebApp.Password))
        {
            Assert.Equal("/", signedIn.Headers.Location?.OriginalString);
        }
        var address = secretariat.HttpAddress.TrimEnd('/');
        foreach (var url in new[]
        {
            "/",
            "/regional?period=2023",
            MirpsExchange.Web.Secretariat.RegionalDownloads.Url("csv", "2023", DateTimeOffset.UtcNow),
            MirpsExchange.Web.Secretariat.RegionalDownloads.Url("xlsx", "2023", DateTimeOffset.UtcNow),
        })
        {
            using var response = await person.GetAsync(address + url);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {(int)response.StatusCode}");
            Assert.True(response.Headers.CacheControl?.NoStore == true, $"{url}: Cache-Control {response.Headers.CacheControl}");
        }
    }

    [Fact]
    public async Task Behind_a_TLS_terminating_proxy_the_sign_in_and_session_cookies_are_secure()
    {
        const string publicAddress = "https://mirps-web.example";
        var identity = await SharedIdentity.GetAsync();
        var port = WebApp.FreePort();
        var clientId = await WebApp.RegisterClientAsync(identity, publicAddress);
        // The proxy forwards to the node's cleartext loopback port; the browser only ever sees the https address.
        await using var node = await TestNode.StartAsync("CRI", null, $"--Node:HttpPort={port}", $"--Web:ClientId={clientId}", $"--Web:PublicAddress={publicAddress}");
        var analyst = await WebApp.ReadyAccountAsync(identity, clientId, "proxy.cri", AccountKind.Analyst, "CRI");
        var address = node.HttpAddress.TrimEnd('/');

        using var person = new PersonSignIn(identity, clientId);
        using var start = await person.GetAsync($"{address}/signin?returnUrl=%2F");
        Assert.Equal(HttpStatusCode.Redirect, start.StatusCode);
        var flowCookie = Assert.Single(start.Headers.GetValues("Set-Cookie"), c => c.StartsWith("mirps-web-signin=", StringComparison.Ordinal));
        Assert.Contains("; secure", flowCookie, StringComparison.OrdinalIgnoreCase);

        // The identity server sends the browser to the public address; the proxy hands the callback to the node as it is.
        var (toCallback, _) = await person.SignInAsync(start.Headers.Location!.ToString(), analyst, WebApp.Password, stopAt: $"{publicAddress}/signin-callback");
        using (toCallback)
        {
            using var proxy = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false });
            using var request = new HttpRequestMessage(HttpMethod.Get, $"{address}/signin-callback{toCallback.Headers.Location!.Query}");
            request.Headers.Add("Cookie", flowCookie.Split(';')[0]);
            using var callback = await proxy.SendAsync(request);
            Assert.Equal(HttpStatusCode.Redirect, callback.StatusCode);
            var cookies = callback.Headers.GetValues("Set-Cookie").ToList();
            Assert.Contains(cookies, c => c.StartsWith("mirps-web=", StringComparison.Ordinal));
            Assert.All(cookies, c => Assert.Contains("; secure", c, StringComparison.OrdinalIgnoreCase));

            // The language cookie too.
            using var language = await proxy.GetAsync($"{address}/language?to=en&returnUrl=%2F");
            Assert.Contains("; secure", Assert.Single(language.Headers.GetValues("Set-Cookie")), StringComparison.OrdinalIgnoreCase);
        }
    }

    /// <summary>A request body sent in two parts: the first at once, the rest when <paramref name="resume"/> completes (a slow connection).</summary>
    internal sealed class StalledContent : HttpContent
    {
        private readonly byte[] _body;
        private readonly Task _resume;

        public StalledContent(byte[] body, Task resume, System.Net.Http.Headers.MediaTypeHeaderValue type)
        {
            (_body, _resume) = (body, resume);
            Headers.ContentType = type;
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(_body.AsMemory(0, _body.Length / 2));
            await stream.FlushAsync();
            await _resume;
            await stream.WriteAsync(_body.AsMemory(_body.Length / 2));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _body.Length;
            return true;
        }
    }

    internal static async Task<(byte[] Body, System.Net.Http.Headers.MediaTypeHeaderValue Type)> UploadFormAsync(PersonSignIn person, string address, string name, byte[] file)
    {
        using var page = await person.GetAsync($"{address}/upload");
        var html = await page.Content.ReadAsStringAsync();
        var token = System.Text.RegularExpressions.Regex.Match(html, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        Assert.False(string.IsNullOrEmpty(token), "no anti-forgery token on the upload page");
        using var form = new MultipartFormDataContent
        {
            { new StringContent(WebUtility.HtmlDecode(token)), "__RequestVerificationToken" },
            { new ByteArrayContent(file), "file", name },
        };
        return (await form.ReadAsByteArrayAsync(), form.Headers.ContentType!);
    }

    [Fact]
    public async Task A_node_reads_a_bounded_number_of_uploads_at_once_and_refuses_an_xlsx_bomb_by_its_zip_directory()
    {
        var identity = await SharedIdentity.GetAsync();
        var port = WebApp.FreePort();
        var clientId = await WebApp.RegisterClientAsync(identity, $"http://127.0.0.1:{port}");
        await using var node = await TestNode.StartAsync("CRI", null, $"--Node:HttpPort={port}", $"--Web:ClientId={clientId}", "--Web:MaxConcurrentUploads=1",
            "--Web:MaxConcurrentUploadsPerAccount=2"); // the process's limit here (one account's own: SlowClientTests)
        var submitter = await WebApp.ReadyAccountAsync(identity, clientId, "bomb.cri", AccountKind.Submitter, "CRI");
        using var person = new PersonSignIn(identity, clientId);
        (await person.WebSignInAsync(node.HttpAddress, "%2Fupload", submitter, WebApp.Password)).Dispose();
        var address = node.HttpAddress.TrimEnd('/');

        // A workbook of 64 KiB that unpacks to more than 64 MiB (a part of zeros beside the template's).
        using var bomb = new MemoryStream();
        MirpsExchange.Catalogue.Spreadsheets.XlsxTemplate.Write(bomb, MirpsExchange.Catalogue.StandardCatalogue.LoadStandard(), "CRI", "2024");
        using (var zip = new System.IO.Compression.ZipArchive(bomb, System.IO.Compression.ZipArchiveMode.Update, leaveOpen: true))
        {
            using var part = zip.CreateEntry("xl/media/zeros.bin", System.IO.Compression.CompressionLevel.Fastest).Open();
            var zeros = new byte[1024 * 1024];
            for (var i = 0; i <= 64; i++)
            {
                part.Write(zeros);
            }
        }

        var (body, type) = await UploadFormAsync(person, address, "bomba.xlsx", bomb.ToArray());

        // One upload on a slow connection holds the node's only reading slot while its body arrives.
        var resume = new TaskCompletionSource();
        var (slowBody, slowType) = await UploadFormAsync(person, address, "lenta.csv", "indicator_code,country,period,value\n"u8.ToArray());
        var slow = person.PostAsync($"{address}/upload/validate", new StalledContent(slowBody, resume.Task, slowType));
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            Assert.False(slow.IsCompleted);

            // Another upload meanwhile: 429, Retry-After and a message that says why, the file unread.
            using (var content = new ByteArrayContent(body))
            {
                content.Headers.ContentType = type;
                using var busy = await person.PostAsync($"{address}/upload/validate", content);
                Assert.Equal(HttpStatusCode.TooManyRequests, busy.StatusCode);
                Assert.NotNull(busy.Headers.RetryAfter);
                Assert.Contains("a la vez", WebUtility.HtmlDecode(await busy.Content.ReadAsStringAsync()), StringComparison.Ordinal);
            }
        }
        finally
        {
            // The slow upload's body always ends (else the node would log an aborted request).
            resume.TrySetResult();
        }
        using (var first = await slow)
        {
            Assert.Equal(HttpStatusCode.Redirect, first.StatusCode);
        }

        // Once the slot is free, the bomb is read, and refused by its zip directory with the limit named.
        using (var content = new ByteArrayContent(body))
        {
            content.Headers.ContentType = type;
            using var refused = await person.PostAsync($"{address}/upload/validate", content);
            Assert.Equal(HttpStatusCode.Redirect, refused.StatusCode);
            using var page = await person.GetAsync(address + refused.Headers.Location!.OriginalString);
            Assert.Contains("se descomprime en más de 64 MiB, el límite", WebUtility.HtmlDecode(await page.Content.ReadAsStringAsync()), StringComparison.Ordinal);
        }
    }
}
