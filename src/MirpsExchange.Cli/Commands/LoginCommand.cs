using System.CommandLine;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Mirps.Auth;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Cli.Commands;

/// <summary>
/// <c>mirps login</c>: a person signs in from the command line with the authorization code flow and PKCE (RFC 8252, native apps):
/// the command listens on a loopback port, prints the address of the identity server's sign-in page for the person's browser,
/// takes the code the browser brings back to the loopback address, redeems it with its PKCE verifier and keeps the access token
/// and the refresh token (offline_access) in an owner-only file under the user's profile. Every command that calls a node, the
/// Secretariat or the identity server uses it when no client credential is given (<see cref="CommonOptions.ResolveCaller"/>),
/// refreshing it silently (<see cref="Federation.LoginTokens"/>).
/// </summary>
public static class LoginCommand
{
    public const string Description =
        "Sign in as a person (your account, not a credential): opens nothing itself, prints the sign-in address for your browser and waits for it "
        + "on a loopback address, then keeps the access and refresh tokens owner-only under your profile; other commands use them when given no "
        + "credential, and refresh them silently until the sign-in's refresh lifetime (12 hours by default) ends. The admin registers the client once: "
        + "mirps accounts register-client --redirect-uri http://127.0.0.1:PORT/callback. Exit codes: 0 signed in. 1 refused (the sign-in or the code). "
        + "2 the identity server unreachable, or no sign-in before the timeout.";

    /// <summary>The loopback port the command listens on unless told otherwise (the redirect URI an admin registers names it).</summary>
    public const int DefaultPort = 8400;

    public static Command Create()
    {
        var identity = CommonOptions.Identity();
        var clientId = new Option<string>("--client-id") { Description = "The public client an admin registered for the command line (mirps accounts register-client)", Required = true };
        var port = new Option<int>("--port") { Description = "The loopback port the redirect URI names (http://127.0.0.1:PORT/callback)", DefaultValueFactory = _ => DefaultPort };
        var resource = new Option<string?>("--resource") { Description = "The node the token is for (its audience); default: your State's node, or the Secretariat's" };
        var tokenFile = new Option<FileInfo?>("--token-file")
        {
            Description = "Where to keep the token (default: environment variable MIRPS_TOKEN_FILE, else mirps/token.json under your profile's application data, owner-only)",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MIRPS_TOKEN_FILE") is { Length: > 0 } path ? new FileInfo(path) : null,
        };
        var timeout = new Option<TimeSpan>("--timeout") { Description = "How long to wait for the browser", DefaultValueFactory = _ => TimeSpan.FromMinutes(5) };
        var command = new Command("login", Description) { identity, clientId, port, resource, tokenFile, timeout };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var issuer = new Uri(parse.GetRequiredValue(identity).ToString().TrimEnd('/') + "/");
            var redirectUri = $"http://127.0.0.1:{parse.GetValue(port)}/callback";
            var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
            var challenge = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
            var state = Base64Url(RandomNumberGenerator.GetBytes(16));
            var query = new List<string>
            {
                "response_type=code", $"client_id={Uri.EscapeDataString(parse.GetRequiredValue(clientId))}", $"redirect_uri={Uri.EscapeDataString(redirectUri)}",
                $"state={state}", $"code_challenge={challenge}", "code_challenge_method=S256",
                // A refresh token too, so the commands that use this sign-in can renew its short-lived access token silently.
                "scope=offline_access",
            };
            if (parse.GetValue(resource) is { Length: > 0 } audience)
            {
                query.Add($"resource={Uri.EscapeDataString(audience)}");
            }
            using var listener = new TcpListener(IPAddress.Loopback, parse.GetValue(port));
            try
            {
                listener.Start();
            }
            catch (SocketException e)
            {
                await error.WriteLineAsync($"error: cannot listen on {redirectUri}: {e.Message}");
                return CliApp.Failed;
            }
            await output.WriteLineAsync("Open this address in your browser and sign in:");
            await output.WriteLineAsync(new Uri(issuer, "connect/authorize?" + string.Join('&', query)).ToString());
            await output.FlushAsync(cancellationToken);

            using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            waiting.CancelAfter(parse.GetValue(timeout));
            Dictionary<string, string> answer;
            try
            {
                answer = await CallbackAsync(listener, state, waiting.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                await error.WriteLineAsync($"error: no sign-in came back to {redirectUri} within {parse.GetValue(timeout)}");
                return CliApp.Failed;
            }
            if (!answer.TryGetValue("code", out var code))
            {
                await error.WriteLineAsync($"error: the sign-in was refused: {answer.GetValueOrDefault("error", "no code")} {answer.GetValueOrDefault("error_description", "")}".TrimEnd());
                return CliApp.Refused;
            }

            using var http = new HttpClient();
            HttpResponseMessage response;
            try
            {
                response = await http.PostAsync(CommonOptions.TokenEndpoint(issuer), new FormUrlEncodedContent(new Dictionary<string, string>
                {
                    ["grant_type"] = "authorization_code", ["client_id"] = parse.GetRequiredValue(clientId), ["code"] = code,
                    ["redirect_uri"] = redirectUri, ["code_verifier"] = verifier,
                }), cancellationToken);
            }
            catch (HttpRequestException e)
            {
                await error.WriteLineAsync($"error: the identity server at {issuer} is unreachable: {e.Message}");
                return CliApp.Failed;
            }
            using (response)
            {
                var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
                if (!response.IsSuccessStatusCode || !body.TryGetProperty("access_token", out var token))
                {
                    await error.WriteLineAsync($"error: the code was refused: {(body.TryGetProperty("error_description", out var why) ? why.GetString() : (int)response.StatusCode)}");
                    return CliApp.Refused;
                }
                var file = parse.GetValue(tokenFile)?.FullName ?? DefaultTokenFile();
                var folder = Path.GetDirectoryName(file)!;
                if (parse.GetValue(tokenFile) is null || !Directory.Exists(folder))
                {
                    // The profile's mirps folder, or a new one, owner-only; a folder the person named that exists already
                    // (their working folder, say) keeps its mode: the file itself is owner-only.
                    OwnerOnlyFile.CreateDirectory(folder);
                }
                var accessToken = token.GetString() ?? "";
                Federation.LoginTokens.Save(file, issuer, parse.GetRequiredValue(clientId), accessToken,
                    body.TryGetProperty("refresh_token", out var refresh) ? refresh.GetString() : null);
                var expires = Federation.LoginTokens.Claims(accessToken).Expires;
                await output.WriteLineAsync($"Signed in; the token (valid until {expires:u}) is in {file} (owner-only).");
                return CliApp.Ok;
            }
        });
        return command;
    }

    /// <summary>The token file under the user's profile: mirps/token.json in the application data folder (~/.config on Linux).</summary>
    public static string DefaultTokenFile() =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData, Environment.SpecialFolderOption.Create), "mirps", "token.json");

    /// <summary>
    /// Waits for the browser's GET /callback on the loopback listener and answers it with a short page; the query's parameters
    /// once its state matches (other requests, such as a favicon, or a wrong state, are answered 400 and waited past).
    /// </summary>
    private static async Task<Dictionary<string, string>> CallbackAsync(TcpListener listener, string state, CancellationToken cancellationToken)
    {
        while (true)
        {
            using var client = await listener.AcceptTcpClientAsync(cancellationToken);
            await using var stream = client.GetStream();
            using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
            var requestLine = await reader.ReadLineAsync(cancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(10), cancellationToken) ?? "";
            var parts = requestLine.Split(' ');
            var target = parts.Length == 3 && parts[0] == "GET" && parts[1].StartsWith("/callback?", StringComparison.Ordinal) ? parts[1] : null;
            var parameters = target is null ? [] : System.Web.HttpUtility.ParseQueryString(target[(target.IndexOf('?') + 1)..]) is var q
                ? q.AllKeys.Where(k => k is not null).ToDictionary(k => k!, k => q[k] ?? "")
                : [];
            var ours = parameters.TryGetValue("state", out var returned) && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(returned), Encoding.ASCII.GetBytes(state));
            var page = ours
                ? "<!DOCTYPE html><html lang=\"es\"><meta charset=\"utf-8\"><title>MIRPS</title><p>Listo: vuelva a la terminal. / Done: return to the terminal.</p></html>"
                : "<!DOCTYPE html><html lang=\"en\"><meta charset=\"utf-8\"><title>MIRPS</title><p>Not a sign-in answer for this command.</p></html>";
            var bytes = Encoding.UTF8.GetBytes(page);
            var head = $"HTTP/1.1 {(ours ? "200 OK" : "400 Bad Request")}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {bytes.Length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head), cancellationToken);
            await stream.WriteAsync(bytes, cancellationToken);
            if (ours)
            {
                return parameters;
            }
        }
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
