using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Mirps.Auth;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Cli.Federation;

/// <summary>The login token cannot serve a command: expired and not refreshable, for another identity server, or refused at refresh.</summary>
public sealed class LoginTokenException(string message) : Exception(message);

/// <summary>
/// A person's tokens from <c>mirps login</c>, kept in an owner-only file: the access token while it is for the node called
/// (its audience) and not about to expire; else a new one from the refresh token (the refresh_token grant, RFC 6749 §6),
/// for that node, written back at once with the new refresh token that replaces the one used (each is good once).
/// The token is read, not verified: the node it is sent to verifies it.
/// </summary>
public sealed class LoginTokens : IAccessTokenSource
{
    /// <summary>A token is refreshed this long before it expires, so no call leaves with one about to expire.</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromSeconds(30);

    private readonly string _file;
    private readonly Uri _issuer;
    private readonly string? _audience;
    private readonly HttpClient _http;
    private readonly TimeProvider _clock;
    private readonly SemaphoreSlim _refresh = new(1, 1);

    /// <param name="audience">The node called (its audience), or null: whatever node the login token is for.</param>
    public LoginTokens(string file, Uri issuer, string? audience, HttpClient http, TimeProvider? clock = null)
    {
        _file = file;
        _issuer = new Uri(issuer.ToString().TrimEnd('/') + "/");
        _audience = audience;
        _http = http;
        _clock = clock ?? TimeProvider.System;
    }

    public string File => _file;

    public void Dispose() => _refresh.Dispose();

    public async ValueTask<string> GetTokenAsync(CancellationToken cancellationToken = default)
    {
        await _refresh.WaitAsync(cancellationToken);
        try
        {
            if (Usable(Read()) is { } current)
            {
                return current;
            }
            // Another mirps command may be refreshing the same sign-in: a refresh token is good once, and a second use revokes
            // the sign-in, so one process at a time refreshes, and the next reads what the first wrote.
            using var held = await LockAsync(cancellationToken);
            var saved = Read();
            if (Usable(saved) is { } refreshed)
            {
                return refreshed;
            }
            var token = saved.GetValueOrDefault("access_token") ?? "";
            var (audiences, expires) = Claims(token);
            var forThisNode = _audience is null || audiences.Contains(_audience);
            if (saved.GetValueOrDefault("refresh_token") is not { Length: > 0 } refreshToken || saved.GetValueOrDefault("client_id") is not { Length: > 0 } clientId)
            {
                throw new LoginTokenException(forThisNode
                    ? $"the login token in {_file} expired at {expires:u} and cannot be refreshed: sign in again (mirps login)"
                    : $"the login token in {_file} is for {string.Join(", ", audiences)}, not {_audience}, and cannot be refreshed: sign in again (mirps login --resource {_audience})");
            }
            var form = new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["client_id"] = clientId, ["refresh_token"] = refreshToken };
            if (_audience is not null)
            {
                form["resource"] = _audience;
            }
            using var response = await _http.PostAsync(Commands.CommonOptions.TokenEndpoint(_issuer), new FormUrlEncodedContent(form), cancellationToken);
            var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
            if (!response.IsSuccessStatusCode || !body.TryGetProperty("access_token", out var fresh) || fresh.GetString() is not { Length: > 0 } access)
            {
                var why = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("error_description", out var description) ? description.GetString() : $"HTTP {(int)response.StatusCode}";
                throw new LoginTokenException($"the login token in {_file} {(forThisNode ? $"expired at {expires:u}" : $"is for {string.Join(", ", audiences)}")} and its refresh was refused: {why} (sign in again: mirps login)");
            }
            Write(saved, access, body.TryGetProperty("refresh_token", out var next) ? next.GetString() : null);
            return access;
        }
        finally
        {
            _refresh.Release();
        }
    }

    /// <summary>The saved access token when it is for the node called and not about to expire; else null.</summary>
    private string? Usable(Dictionary<string, string> saved)
    {
        var token = saved.GetValueOrDefault("access_token") ?? "";
        var (audiences, expires) = Claims(token);
        return (_audience is null || audiences.Contains(_audience)) && _clock.GetUtcNow() < expires - Margin ? token : null;
    }

    /// <summary>How long a command waits for another one's refresh of the same sign-in.</summary>
    public static readonly TimeSpan LockWait = TimeSpan.FromSeconds(30);

    /// <summary>An exclusive lock on the token file's owner-only lock file, held while a refresh is asked for and written.</summary>
    private async Task<FileStream> LockAsync(CancellationToken cancellationToken)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        while (true)
        {
            try
            {
                return new FileStream(_file + ".lock", options);
            }
            catch (IOException) when (waited.Elapsed < LockWait)
            {
                await Task.Delay(50, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Writes what <c>mirps login</c> got (or a refresh brought) to <paramref name="file"/>, owner-only: the issuer, the public
    /// client, the access token and its expiry, and the refresh token when there is one.
    /// </summary>
    public static void Save(string file, Uri issuer, string clientId, string accessToken, string? refreshToken)
    {
        var values = new Dictionary<string, string>
        {
            ["issuer"] = issuer.ToString(),
            ["client_id"] = clientId,
            ["access_token"] = accessToken,
            ["expires_at"] = Claims(accessToken).Expires.ToString("O"),
        };
        if (!string.IsNullOrEmpty(refreshToken))
        {
            values["refresh_token"] = refreshToken;
        }
        OwnerOnlyFile.WriteAllText(file, JsonSerializer.Serialize(values));
    }

    private void Write(Dictionary<string, string> saved, string accessToken, string? refreshToken) =>
        Save(_file, _issuer, saved["client_id"], accessToken, refreshToken);

    private Dictionary<string, string> Read()
    {
        Dictionary<string, string>? saved;
        try
        {
            saved = JsonSerializer.Deserialize<Dictionary<string, string>>(System.IO.File.ReadAllText(_file));
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new LoginTokenException($"the login token file {_file} cannot be read: {e.Message}");
        }
        if (saved is null || !saved.TryGetValue("issuer", out var issuer))
        {
            throw new LoginTokenException($"the login token file {_file} is not one mirps login wrote");
        }
        if (!string.Equals(issuer.TrimEnd('/'), _issuer.ToString().TrimEnd('/'), StringComparison.Ordinal))
        {
            throw new LoginTokenException($"the login token in {_file} is from the identity server {issuer}, not {_issuer} (--identity): sign in there, or name it");
        }
        return saved;
    }

    /// <summary>The audiences and expiry a JWT access token states (read, not verified; no expiry: already expired).</summary>
    public static (IReadOnlyList<string> Audiences, DateTimeOffset Expires) Claims(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            return ([], DateTimeOffset.MinValue);
        }
        try
        {
            var payload = parts[1].Replace('-', '+').Replace('_', '/');
            payload = payload.PadRight(payload.Length + (4 - payload.Length % 4) % 4, '=');
            using var json = JsonDocument.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(payload)));
            var root = json.RootElement;
            var expires = root.TryGetProperty("exp", out var exp) && exp.TryGetInt64(out var seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : DateTimeOffset.MinValue;
            IReadOnlyList<string> audiences = !root.TryGetProperty("aud", out var aud) ? []
                : aud.ValueKind == JsonValueKind.Array ? [.. aud.EnumerateArray().Select(a => a.GetString() ?? "")]
                : [aud.GetString() ?? ""];
            return (audiences, expires);
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException)
        {
            return ([], DateTimeOffset.MinValue);
        }
    }
}
