using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using MirpsExchange.Identity.Credentials;
using MirpsExchange.Identity.Extensions;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace MirpsExchange.Identity.Tokens;

/// <summary>
/// What one party can make the token endpoint do, bounded so that no one can use the bounds against
/// someone else (fixed one-minute windows, <see cref="WindowCounts"/>):
/// <list type="bullet">
/// <item>Refused client authentications are counted per (client id, remote address) and per remote
/// address. While either is full, the endpoint answers 429 to that address, with one body for every
/// client id, existing or not. Nothing is counted per client id alone: a client id is no secret (every
/// node sees it as a token's <c>sub</c>), so a count any address could fill would let outsiders lock the
/// real client out. Secrets are 256 random bits, so spreading guesses over many addresses gains nothing.</item>
/// <item>Authenticated requests are counted per client id (<see cref="IdentityOptions.TokensPerClientPerMinute"/>),
/// so a credential holder cannot make the server hash secrets and sign tokens without end. Only the
/// client's own successful authentications count, and a full window is answered 429 before the secret
/// is hashed.</item>
/// <item>Keys are bounded: an address is an IP address (IPv6 by its /64, which one host commonly
/// holds whole), and a client id is a key only when well-formed
/// (<see cref="CredentialAdministration.IsWellFormedClientId"/>). A request naming a malformed client id
/// is refused at once as a bad client and counted under its address only. A refused request adds no key;
/// a failure adds a (client id, address) key only while its address is below its limit.</item>
/// <item>The request body is capped at <see cref="MaxRequestBodyBytes"/> before it is parsed.</item>
/// </list>
/// </summary>
public sealed class TokenEndpointThrottle
{
    /// <summary>Largest token request body read: a private_key_jwt request is about 1 KiB, a client-secret one far less.</summary>
    public const int MaxRequestBodyBytes = 16 * 1024;

    public const string FailuresDescription = "Too many refused authentications; retry in a minute.";

    private readonly WindowCounts _failuresPerClientAndAddress;
    private readonly WindowCounts _failuresPerAddress;
    private readonly WindowCounts _authenticatedPerClient;
    private readonly int _tokensPerClientPerMinute;

    public TokenEndpointThrottle(IOptions<IdentityOptions> options, TimeProvider clock, IMeterFactory meters)
    {
        var limits = options.Value;
        var window = TimeSpan.FromMinutes(1);
        _failuresPerClientAndAddress = new WindowCounts(limits.FailedAuthenticationsPerClientAndAddress, window, clock);
        _failuresPerAddress = new WindowCounts(limits.FailedAuthenticationsPerAddress, window, clock);
        _authenticatedPerClient = new WindowCounts(limits.TokensPerClientPerMinute, window, clock);
        _tokensPerClientPerMinute = limits.TokensPerClientPerMinute;
        meters.Create(IdentityExtensions.MeterName).CreateObservableGauge("mirps.identity.token_throttle.keys", () => TrackedKeys,
            unit: "{key}", description: "Keys (client ids, addresses, pairs) the token endpoint throttle holds counts for.");
    }

    /// <summary>How many keys the throttle holds counts for, over all its windows.</summary>
    public int TrackedKeys => _failuresPerClientAndAddress.Keys + _failuresPerAddress.Keys + _authenticatedPerClient.Keys;

    /// <summary>Records a refused client authentication: under the address, and under (client id, address) if the id is well-formed and the address was not full.</summary>
    public void RecordFailure(string clientId, string address)
    {
        if (_failuresPerAddress.TryCount(address) && CredentialAdministration.IsWellFormedClientId(clientId))
        {
            _failuresPerClientAndAddress.TryCount(PairKey(clientId, address));
        }
    }

    /// <summary>Why a request claiming <paramref name="clientId"/> from <paramref name="address"/> is answered 429 before authentication, or null.</summary>
    public Refusal? RefusalFor(string clientId, string address)
    {
        if (_failuresPerAddress.RetryAfter(address) is { } addressFull)
        {
            return new Refusal(OpenIddictConstants.Errors.InvalidClient, FailuresDescription, addressFull);
        }
        if (!CredentialAdministration.IsWellFormedClientId(clientId))
        {
            return null;
        }
        if (_failuresPerClientAndAddress.RetryAfter(PairKey(clientId, address)) is { } pairFull)
        {
            return new Refusal(OpenIddictConstants.Errors.InvalidClient, FailuresDescription, pairFull);
        }
        return _authenticatedPerClient.RetryAfter(clientId) is { } clientFull ? TooManyTokens(clientFull) : null;
    }

    /// <summary>Counts an authenticated request of <paramref name="clientId"/>; the refusal when its window was already full.</summary>
    public Refusal? RecordAuthenticated(string clientId) =>
        !CredentialAdministration.IsWellFormedClientId(clientId) || _authenticatedPerClient.TryCount(clientId)
            ? null
            : TooManyTokens(_authenticatedPerClient.RetryAfter(clientId) ?? TimeSpan.FromMinutes(1));

    private Refusal TooManyTokens(TimeSpan retryAfter) => new(OpenIddictConstants.Errors.TemporarilyUnavailable,
        $"Too many token requests for this client (at most {_tokensPerClientPerMinute} a minute); reuse each token until it expires.", retryAfter);

    /// <summary>A 429 answer: the OAuth2 error, its description, and when to retry.</summary>
    public readonly record struct Refusal(string Error, string Description, TimeSpan RetryAfter);

    // A line feed appears neither in a well-formed client id nor in an IP address.
    private static string PairKey(string clientId, string address) => clientId + "\n" + address;

    /// <summary>The remote address as the throttle counts it: the IP address, an IPv6 one by its /64 network.</summary>
    public static string Address(HttpContext http)
    {
        var ip = http.Connection.RemoteIpAddress;
        if (ip is null)
        {
            return "unknown";
        }
        if (ip.IsIPv4MappedToIPv6)
        {
            return ip.MapToIPv4().ToString();
        }
        if (ip.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return ip.ToString();
        }
        var bytes = ip.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    /// <summary>
    /// The client id a token request authenticates as, as OpenIddict sees it: the client_id parameter,
    /// which OpenIddict has already filled from an HTTP Basic header, or else the (not yet verified)
    /// issuer of a private_key_jwt assertion sent without client_id. Failures and the check use the same key.
    /// </summary>
    public static string ClientIdOf(OpenIddictRequest? request)
    {
        if (!string.IsNullOrEmpty(request?.ClientId))
        {
            return request.ClientId;
        }
        if (request?.ClientAssertion is { Length: > 0 and <= MaxRequestBodyBytes } assertion)
        {
            try
            {
                return new JsonWebToken(assertion).Issuer ?? "";
            }
            catch (ArgumentException)
            {
                // not a JWT: OpenIddict refuses it; counted under the empty client id
            }
        }
        return "";
    }

    /// <summary>Answers an OAuth2 error with <paramref name="status"/> directly: OAuth2 has no error code for 413 or 429, so OpenIddict cannot.</summary>
    private static async Task RespondAsync(HttpContext http, int status, string error, string description, TimeSpan? retryAfter)
    {
        http.Response.StatusCode = status;
        if (retryAfter is { } wait)
        {
            http.Response.Headers.RetryAfter = ((int)Math.Ceiling(Math.Max(1, wait.TotalSeconds))).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        http.Response.Headers.CacheControl = "no-store";
        await http.Response.WriteAsJsonAsync(new Dictionary<string, string>
        {
            [OpenIddictConstants.Parameters.Error] = error,
            [OpenIddictConstants.Parameters.ErrorDescription] = description,
        }, http.RequestAborted);
    }

    /// <summary>
    /// The check, as the first step of OpenIddict's token request validation: it runs for whatever
    /// path OpenIddict recognises as its token endpoint (trailing slash, other casing), after
    /// OpenIddict has moved HTTP Basic credentials into the request and before any secret is hashed,
    /// so neither a path spelling nor the Basic header bypasses it. A malformed client id is refused here
    /// as a bad client (the same answer as a wrong secret) and goes no further.
    /// </summary>
    public sealed class Check(TokenEndpointThrottle throttle) : IOpenIddictServerHandler<ValidateTokenRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
                .UseSingletonHandler<Check>()
                .SetOrder(OpenIddictServerHandlers.Exchange.ValidateGrantType.Descriptor.Order - 1_000)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ValidateTokenRequestContext context)
        {
            var http = context.Transaction.GetHttpRequest()?.HttpContext;
            if (http is null)
            {
                return;
            }
            var clientId = ClientIdOf(context.Request);
            if (throttle.RefusalFor(clientId, Address(http)) is { } refusal)
            {
                await RespondAsync(http, StatusCodes.Status429TooManyRequests, refusal.Error, refusal.Description, refusal.RetryAfter);
                context.HandleRequest();
            }
            else if (clientId.Length > 0 && !CredentialAdministration.IsWellFormedClientId(clientId))
            {
                context.Reject(OpenIddictConstants.Errors.InvalidClient, ClientAuthenticationFailures.MalformedClientId);
            }
        }
    }

    /// <summary>
    /// Counts each request right after OpenIddict has authenticated its client (whatever follows:
    /// the work of hashing the secret or checking the assertion is done), and answers 429 once the
    /// client's window is full.
    /// </summary>
    public sealed class CountAuthenticated(TokenEndpointThrottle throttle) : IOpenIddictServerHandler<ValidateTokenRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
                .UseSingletonHandler<CountAuthenticated>()
                .SetOrder(OpenIddictServerHandlers.Exchange.ValidateAuthentication.Descriptor.Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ValidateTokenRequestContext context)
        {
            var http = context.Transaction.GetHttpRequest()?.HttpContext;
            // A public client's code grants (no secret, no assertion: nothing hashed or verified) are people's sign-ins,
            // each already paid for by a password and its lockout: one web app serves everyone, so they are not
            // counted against its client id.
            var publicCodeGrant = context.Request.IsAuthorizationCodeGrantType()
                && string.IsNullOrEmpty(context.Request.ClientSecret) && string.IsNullOrEmpty(context.Request.ClientAssertion);
            if (http is not null && !publicCodeGrant && throttle.RecordAuthenticated(context.Request.ClientId ?? "") is { } refusal)
            {
                await RespondAsync(http, StatusCodes.Status429TooManyRequests, refusal.Error, refusal.Description, refusal.RetryAfter);
                context.HandleRequest();
            }
        }
    }

    /// <summary>
    /// Caps the token request body at <see cref="MaxRequestBodyBytes"/> and reads the form itself, just
    /// before OpenIddict would: a larger body (declared or streamed) is answered 413, a form the
    /// framework cannot read (too many fields, an over-long name) 400, both as OAuth2 invalid_request,
    /// never an unhandled exception. OpenIddict then finds the form already read.
    /// </summary>
    public sealed class LimitBody : IOpenIddictServerHandler<ExtractTokenRequestContext>
    {
        public const string TooLargeDescription = "The token request body is larger than 16 KiB.";

        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ExtractTokenRequestContext>()
                .UseSingletonHandler<LimitBody>()
                .SetOrder(OpenIddictServerAspNetCoreHandlers.ExtractPostRequest<ExtractTokenRequestContext>.Descriptor.Order - 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ExtractTokenRequestContext context)
        {
            var request = context.Transaction.GetHttpRequest();
            if (request is null)
            {
                return;
            }
            if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = MaxRequestBodyBytes;
            }
            if (request.ContentLength > MaxRequestBodyBytes)
            {
                await TooLargeAsync(context, request.HttpContext);
                return;
            }
            if (!HttpMethods.IsPost(request.Method) || !request.HasFormContentType)
            {
                return; // OpenIddict refuses it without reading the body
            }
            try
            {
                await request.ReadFormAsync(context.CancellationToken);
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                await TooLargeAsync(context, request.HttpContext);
            }
            catch (InvalidDataException e)
            {
                context.Reject(OpenIddictConstants.Errors.InvalidRequest, $"The token request's form cannot be read: {e.Message}");
            }
        }

        private static async Task TooLargeAsync(ExtractTokenRequestContext context, HttpContext http)
        {
            if (HttpProtocol.IsHttp11(http.Request.Protocol) || HttpProtocol.IsHttp10(http.Request.Protocol))
            {
                // The rest of the body stays unread: close, or the client's next request on this
                // connection would fail when Kestrel gives up draining it.
                http.Response.Headers.Connection = "close";
            }
            await RespondAsync(http, StatusCodes.Status413PayloadTooLarge, OpenIddictConstants.Errors.InvalidRequest, TooLargeDescription, retryAfter: null);
            context.HandleRequest();
        }
    }
}
