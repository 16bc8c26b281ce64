using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Grpc.Core;

namespace Mirps.Auth;

/// <summary>
/// A confidential client's credential: its client id and secret; or its client id alone (an empty
/// secret) for a tls_client_auth credential, which the client certificate presented over TLS authenticates.
/// </summary>
public sealed record ClientCredential(
    [property: JsonPropertyName("client_id")] string ClientId,
    [property: JsonPropertyName("client_secret")] string ClientSecret)
{
    /// <summary>
    /// Reads a credential file ({"client_id": ..., "client_secret": ...}), as the identity server's bootstrap writes it;
    /// without client_secret (or with an empty one) the credential is a tls_client_auth one.
    /// </summary>
    public static ClientCredential Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The credential file {path} does not exist.", path);
        }
        ClientCredential? credential;
        try
        {
            // Source-generated: reflection-based deserialization took a good part of a node's start-up CPU for this one file.
            credential = JsonSerializer.Deserialize(File.ReadAllText(path), CredentialJson.Default.ClientCredential);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The credential file {path} is not JSON with client_id and client_secret: {e.Message}", e);
        }
        if (credential is null || string.IsNullOrEmpty(credential.ClientId))
        {
            throw new InvalidDataException($"The credential file {path} needs client_id (and client_secret, unless a client certificate authenticates it).");
        }
        return credential.ClientSecret is null ? credential with { ClientSecret = "" } : credential;
    }

    /// <summary>Never the secret: credentials reach logs and exception messages through string interpolation.</summary>
    public override string ToString() => $"ClientCredential {{ ClientId = {ClientId} }}";
}

/// <summary>The credential file's JSON, source-generated (<see cref="ClientCredential.Load"/>).</summary>
[JsonSerializable(typeof(ClientCredential))]
internal sealed partial class CredentialJson : JsonSerializerContext;

/// <summary>The token endpoint refused the client: error and description as OAuth2 returns them.</summary>
public sealed class TokenRequestException(string error, string description)
    : Exception($"The identity server refused the token request: {error}{(description.Length > 0 ? ": " + description : "")}")
{
    public string Error { get; } = error;
}

/// <summary>Where a client's calls get their access token: a credential's <see cref="TokenClient"/>, or a person's sign-in (the CLI's login token).</summary>
public interface IAccessTokenSource : IDisposable
{
    /// <summary>A current access token (asked for, or refreshed, when the one held is about to expire).</summary>
    ValueTask<string> GetTokenAsync(CancellationToken cancellationToken = default);

    /// <summary>gRPC call credentials that attach a current token to every call.</summary>
    CallCredentials ToCallCredentials() => BearerCredentials(this);

    /// <summary>Call credentials that attach a current token of <paramref name="tokens"/> to every call.</summary>
    static CallCredentials BearerCredentials(IAccessTokenSource tokens) => CallCredentials.FromInterceptor(async (context, metadata) =>
        metadata.Add("Authorization", $"Bearer {await tokens.GetTokenAsync(context.CancellationToken)}"));
}

/// <summary>
/// Gets access tokens with the client_credentials grant and reuses each until shortly before it
/// expires, so a busy client asks for a token once per lifetime, not once per call. Thread-safe: one
/// refresh at a time however many calls wait for it.
/// </summary>
/// <param name="resource">
/// The audience of the one node the tokens are for (RFC 8707 <c>resource</c>, see
/// <see cref="MirpsAuth.NodeAudience"/>): every node accepts only tokens for itself, so a client that
/// calls several nodes keeps one TokenClient per node. Null: the identity server's default, the
/// credential's own State's node (the Secretariat's node for a Secretariat credential).
/// </param>
public sealed class TokenClient(HttpClient http, Uri tokenEndpoint, ClientCredential credential, string scope, string? resource = null, TimeProvider? clock = null) : IAccessTokenSource, IDisposable
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private (string Token, DateTimeOffset RefreshAt)? _current;

    /// <summary>
    /// How long a token is reused when the server gives no (or a zero) expires_in, which RFC 6749 allows:
    /// short, since its real lifetime is unknown, but never a new token per call.
    /// </summary>
    public static readonly TimeSpan UnknownLifetime = TimeSpan.FromMinutes(1);

    /// <summary>How many tokens this client has obtained (a busy client should show few).</summary>
    public int TokensRequested { get; private set; }

    public async ValueTask<string> GetTokenAsync(CancellationToken cancellationToken = default)
    {
        if (_current is { } current && _clock.GetUtcNow() < current.RefreshAt)
        {
            return current.Token;
        }
        await _refresh.WaitAsync(cancellationToken);
        try
        {
            if (_current is { } fresh && _clock.GetUtcNow() < fresh.RefreshAt)
            {
                return fresh.Token;
            }
            var requested = _clock.GetUtcNow();
            var form = new Dictionary<string, string>
            {
                ["grant_type"] = "client_credentials",
                ["client_id"] = credential.ClientId,
                ["client_secret"] = credential.ClientSecret,
                ["scope"] = scope,
            };
            if (string.IsNullOrEmpty(credential.ClientSecret))
            {
                // tls_client_auth (RFC 8705 §2.1): the client certificate of the TLS handshake authenticates the client id.
                form.Remove("client_secret");
            }
            if (!string.IsNullOrEmpty(resource))
            {
                form["resource"] = resource;
            }
            using var response = await http.PostAsync(tokenEndpoint, new FormUrlEncodedContent(form), cancellationToken);
            var body = await response.Content.ReadFromJsonAsync<TokenResponse>(cancellationToken)
                ?? throw new TokenRequestException("invalid_response", "the token endpoint returned no JSON");
            if (!response.IsSuccessStatusCode || string.IsNullOrEmpty(body.AccessToken))
            {
                throw new TokenRequestException(body.Error ?? $"http_{(int)response.StatusCode}", body.ErrorDescription ?? "");
            }
            TokensRequested++;
            // Refresh a minute early (or at 80% of a short lifetime), so no call goes out with a token about to expire.
            var lifetime = body.ExpiresIn > 0 ? TimeSpan.FromSeconds(body.ExpiresIn) : UnknownLifetime;
            var margin = TimeSpan.FromTicks(Math.Min(TimeSpan.FromMinutes(1).Ticks, lifetime.Ticks / 5));
            _current = (body.AccessToken, requested + lifetime - margin);
            return body.AccessToken;
        }
        finally
        {
            _refresh.Release();
        }
    }

    /// <summary>
    /// At most one token thrown away per this interval: a peer that refuses every token on purpose must not
    /// make its caller spend its per-client token allowance at the identity server (and so be refused there
    /// for its other peers).
    /// </summary>
    public static readonly TimeSpan MinInvalidationInterval = TimeSpan.FromMinutes(1);

    private DateTimeOffset? _lastInvalidation;

    /// <summary>
    /// Forgets the token held, so the next call asks for a new one: for a caller whose token a node refused
    /// (UNAUTHENTICATED) before it expired, because the identity server revoked it (a secret rotated at once,
    /// a signing key rolled). At most once per <see cref="MinInvalidationInterval"/>; otherwise the token is
    /// kept until its refresh time.
    /// </summary>
    public void Refused()
    {
        var now = _clock.GetUtcNow();
        if (_current is not null && (_lastInvalidation is not { } last || now - last >= MinInvalidationInterval))
        {
            _current = null;
            _lastInvalidation = now;
        }
    }

    /// <summary>gRPC call credentials that attach a current token to every call.</summary>
    public CallCredentials ToCallCredentials() => IAccessTokenSource.BearerCredentials(this);

    public void Dispose() => _refresh.Dispose();

    private sealed record TokenResponse(
        [property: JsonPropertyName("access_token")] string? AccessToken,
        [property: JsonPropertyName("expires_in")] int ExpiresIn,
        [property: JsonPropertyName("error")] string? Error,
        [property: JsonPropertyName("error_description")] string? ErrorDescription);
}
