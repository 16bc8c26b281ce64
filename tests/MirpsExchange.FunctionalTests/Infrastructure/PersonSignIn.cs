using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Mirps.Identity.V1;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// A person in a browser, as an HttpClient with a cookie container and no automatic redirects: the
/// authorization code flow with PKCE against a <see cref="TestIdentity"/>, step by step (authorize, login
/// form with its anti-forgery token, password change, TOTP, code, token request with the verifier).
/// </summary>
public sealed partial class PersonSignIn : IDisposable
{
    public const string RedirectUri = "http://127.0.0.1:9/callback";

    private readonly HttpClient _http;
    private readonly CookieContainer _cookies = new();

    /// <summary>The Cookie header this person's client sends to <paramref name="address"/> (for a raw-socket request as the same person).</summary>
    public string CookieHeader(string address) => _cookies.GetCookieHeader(new Uri(address));

    /// <param name="certificate">Over TLS, the client certificate the browser's client presents (the token is bound to it).</param>
    /// <param name="sourceAddress">A loopback address (127.0.0.x) the browser connects from, as another machine would.</param>
    public PersonSignIn(TestIdentity identity, string clientId, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate = null, string? sourceAddress = null)
    {
        ClientId = clientId;
        var handler = Mirps.Tls.FederationTrust.CreateHandler(identity.CaFile, certificate);
        if (sourceAddress is not null)
        {
            handler.ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Parse(sourceAddress), 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }
        handler.CookieContainer = _cookies;
        handler.UseCookies = true;
        handler.AllowAutoRedirect = false;
        _http = new HttpClient(handler) { BaseAddress = new Uri(identity.Issuer) };
    }

    public string ClientId { get; }

    /// <summary>A PKCE pair: the verifier and its S256 challenge.</summary>
    public static (string Verifier, string Challenge) Pkce()
    {
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        return (verifier, Base64Url(SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(verifier))));
    }

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Registers a public client for <see cref="RedirectUri"/> through the admin API.</summary>
    public static async Task<string> RegisterClientAsync(TestIdentity identity) =>
        (await new AccountService.AccountServiceClient(identity.AdminChannel).RegisterPublicClientAsync(new RegisterPublicClientRequest
        {
            RedirectUris = { RedirectUri },
            Description = "test web app",
        })).ClientId;

    /// <summary>Creates an account through the admin API: its id and temporary password.</summary>
    public static async Task<(string Id, string Password)> CreateAccountAsync(TestIdentity identity, string userName, AccountKind kind, string country = "", bool twoFactor = false,
        bool secretariat = false)
    {
        var response = await new AccountService.AccountServiceClient(identity.AdminChannel).CreateAccountAsync(new CreateAccountRequest
        {
            UserName = userName,
            Kind = kind,
            Country = country,
            Secretariat = secretariat,
            RequireTwoFactor = twoFactor,
        });
        return (response.Account.AccountId, response.TemporaryPassword);
    }

    /// <summary>The authorization request URL (relative to the issuer); a null challenge leaves PKCE out.</summary>
    public string AuthorizeUrl(string? challenge, string method = "S256", string? resource = null, string? scope = null, string redirectUri = RedirectUri)
    {
        var query = new List<string> { "response_type=code", $"client_id={ClientId}", $"redirect_uri={Uri.EscapeDataString(redirectUri)}", "state=xyz" };
        if (challenge is not null)
        {
            query.Add($"code_challenge={challenge}");
            query.Add($"code_challenge_method={method}");
        }
        if (resource is not null)
        {
            query.Add($"resource={Uri.EscapeDataString(resource)}");
        }
        if (scope is not null)
        {
            query.Add($"scope={Uri.EscapeDataString(scope)}");
        }
        return "connect/authorize?" + string.Join('&', query);
    }

    public Task<HttpResponseMessage> GetAsync(string url) => _http.GetAsync(url.TrimStart('/'));

    public Task<HttpResponseMessage> PostAsync(string url, HttpContent content) => _http.PostAsync(url, content);

    /// <summary>GETs <paramref name="url"/>, then posts its form with the anti-forgery token and return URL it carries, plus <paramref name="fields"/>.</summary>
    public async Task<HttpResponseMessage> SubmitFormAsync(string url, params (string Name, string Value)[] fields)
    {
        using var page = await GetAsync(url);
        Assert.True(page.StatusCode == HttpStatusCode.OK, $"GET {url}: {(int)page.StatusCode}");
        return await PostFormAsync(await page.Content.ReadAsStringAsync(), fields);
    }

    /// <summary>Posts the form of <paramref name="html"/> (its action and hidden fields) with <paramref name="fields"/>.</summary>
    public async Task<HttpResponseMessage> PostFormAsync(string html, params (string Name, string Value)[] fields)
    {
        var action = WebUtility.HtmlDecode(FormAction().Match(html).Groups[1].Value);
        var form = HiddenField().Matches(html).ToDictionary(m => WebUtility.HtmlDecode(m.Groups[1].Value), m => WebUtility.HtmlDecode(m.Groups[2].Value));
        foreach (var (name, value) in fields)
        {
            form[name] = value;
        }
        return await _http.PostAsync(action.TrimStart('/'), new FormUrlEncodedContent(form));
    }

    /// <summary>
    /// Follows the sign-in from an authorization request to the code: login, then whatever the account
    /// still needs (a new password, enrolling or giving a TOTP code). Returns the last response (a redirect
    /// to the client with the code, or the page that refused) and the authenticator key if one was enrolled.
    /// </summary>
    public async Task<(HttpResponseMessage Response, string? EnrolledKey)> SignInAsync(string authorizeUrl, string userName, string password,
        string? newPassword = null, string? totpKey = null, string? stopAt = null)
    {
        var response = await GetAsync(authorizeUrl);
        string? enrolled = null;
        for (var step = 0; step < 8; step++)
        {
            if (response.StatusCode != HttpStatusCode.Redirect)
            {
                return (response, enrolled);
            }
            var location = response.Headers.Location!.ToString();
            if (location.StartsWith(stopAt ?? RedirectUri, StringComparison.Ordinal))
            {
                return (response, enrolled);
            }
            response.Dispose();
            if (location.StartsWith("/account/login", StringComparison.Ordinal))
            {
                response = await SubmitFormAsync(location, ("user_name", userName), ("password", password));
            }
            else if (location.StartsWith("/account/change-password", StringComparison.Ordinal))
            {
                response = await SubmitFormAsync(location, ("new_password", newPassword!), ("confirm_password", newPassword!));
            }
            else if (location.StartsWith("/account/enrol", StringComparison.Ordinal))
            {
                using var page = await GetAsync(location);
                var html = await page.Content.ReadAsStringAsync();
                enrolled = Key().Match(html).Groups[1].Value;
                response = await PostFormAsync(html, ("code", Totp.Code(enrolled)));
            }
            else if (location.StartsWith("/account/two-factor", StringComparison.Ordinal))
            {
                response = await SubmitFormAsync(location, ("code", Totp.Code(totpKey!)));
            }
            else
            {
                response = await GetAsync(location);
            }
        }
        return (response, enrolled);
    }

    /// <summary>
    /// Signs in to a web app as a browser does: GET /signin with <paramref name="encodedReturnUrl"/> (already
    /// URL-encoded, sent as it is), the identity server's pages, then the web app's callback, whose answer (a
    /// redirect to the return URL, with the session cookie, kept in this client) is returned.
    /// </summary>
    public async Task<HttpResponseMessage> WebSignInAsync(string webAddress, string encodedReturnUrl, string userName, string password)
    {
        webAddress = webAddress.TrimEnd('/');
        using var start = await _http.GetAsync($"{webAddress}/signin?returnUrl={encodedReturnUrl}");
        Assert.Equal(HttpStatusCode.Redirect, start.StatusCode);
        var (response, _) = await SignInAsync(start.Headers.Location!.ToString(), userName, password, stopAt: $"{webAddress}/signin-callback");
        using (response)
        {
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
            return await _http.GetAsync(response.Headers.Location!);
        }
    }

    /// <summary>The code in a redirect to the client.</summary>
    public static string CodeOf(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var location = response.Headers.Location!;
        Assert.StartsWith(RedirectUri, location.ToString(), StringComparison.Ordinal);
        var code = System.Web.HttpUtility.ParseQueryString(location.Query)["code"];
        Assert.False(string.IsNullOrEmpty(code), $"no code in {location}");
        return code;
    }

    /// <summary>The token request of a public client: the code and the PKCE verifier.</summary>
    public async Task<(int Status, JsonElement Body)> RedeemAsync(string code, string? verifier, string redirectUri = RedirectUri)
    {
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["client_id"] = ClientId,
            ["code"] = code,
            ["redirect_uri"] = redirectUri,
        };
        if (verifier is not null)
        {
            form["code_verifier"] = verifier;
        }
        using var response = await _http.PostAsync(Mirps.Auth.MirpsAuth.TokenEndpointPath, new FormUrlEncodedContent(form));
        return ((int)response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    /// <summary>The whole flow for an account whose password is final: an access token (asserting each step succeeded).</summary>
    public async Task<string> AccessTokenAsync(string userName, string password, string? resource = null, string? scope = null, string? totpKey = null)
    {
        var (verifier, challenge) = Pkce();
        var (response, _) = await SignInAsync(AuthorizeUrl(challenge, resource: resource, scope: scope), userName, password, totpKey: totpKey);
        var (status, body) = await RedeemAsync(CodeOf(response), verifier);
        Assert.True(status == 200, body.ToString());
        return body.GetProperty("access_token").GetString()!;
    }

    public void Dispose() => _http.Dispose();

    [GeneratedRegex("<form method=\"post\" action=\"([^\"]*)\"")]
    private static partial Regex FormAction();

    [GeneratedRegex("<input type=\"hidden\" name=\"([^\"]*)\" value=\"([^\"]*)\">")]
    private static partial Regex HiddenField();

    [GeneratedRegex("<code id=\"key\">([A-Z2-7]+)</code>")]
    private static partial Regex Key();
}

/// <summary>RFC 6238 TOTP (HMAC-SHA1, 30-second steps, 6 digits) from a base32 key, as an authenticator app computes it.</summary>
public static class Totp
{
    public static string Code(string base32Key, DateTimeOffset? at = null)
    {
        var step = (at ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds() / 30;
        var counter = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(counter, step);
        var hash = HMACSHA1.HashData(Base32(base32Key), counter);
        var offset = hash[^1] & 0x0f;
        var binary = ((hash[offset] & 0x7f) << 24) | (hash[offset + 1] << 16) | (hash[offset + 2] << 8) | hash[offset + 3];
        return (binary % 1_000_000).ToString("D6", System.Globalization.CultureInfo.InvariantCulture);
    }

    private static byte[] Base32(string text)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var bytes = new List<byte>();
        int buffer = 0, bits = 0;
        foreach (var c in text.TrimEnd('=').ToUpperInvariant())
        {
            buffer = (buffer << 5) | alphabet.IndexOf(c, StringComparison.Ordinal);
            bits += 5;
            if (bits >= 8)
            {
                bytes.Add((byte)(buffer >> (bits - 8)));
                bits -= 8;
                buffer &= (1 << bits) - 1;
            }
        }
        return [.. bytes];
    }
}
