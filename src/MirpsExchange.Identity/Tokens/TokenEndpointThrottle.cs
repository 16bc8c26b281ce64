using System.Threading.RateLimiting;
using Microsoft.AspNetCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace MirpsExchange.Identity.Tokens;

/// <summary>
/// Slows down secret guessing: refused client authentications are counted per (client id, remote
/// address), per client id over all addresses (a much higher ceiling) and per remote address (ASP.NET
/// Core's fixed-window rate limiters); while any of them has no permits left, the token endpoint answers
/// 429 with one body for every client id, existing or not. Counting per (client id, address) first means
/// a stranger failing with a State's client id locks out only themselves, not the State; the global
/// ceiling still stops a guesser spread over many addresses. Successful requests are not counted, so
/// busy legitimate clients are never throttled by this.
/// </summary>
public sealed class TokenEndpointThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<string> _perClientAndAddress;
    private readonly PartitionedRateLimiter<string> _perClient;
    private readonly PartitionedRateLimiter<string> _perAddress;

    public TokenEndpointThrottle(IOptions<IdentityOptions> options)
    {
        var limits = options.Value;
        _perClientAndAddress = Create(limits.FailedAuthenticationsPerClientAndAddress);
        _perClient = Create(limits.FailedAuthenticationsPerClient);
        _perAddress = Create(limits.FailedAuthenticationsPerAddress);
    }

    /// <summary>Records a refused client authentication.</summary>
    public void RecordFailure(string clientId, string address)
    {
        using var pair = _perClientAndAddress.AttemptAcquire(PairKey(clientId, address));
        using var client = _perClient.AttemptAcquire(clientId);
        using var remote = _perAddress.AttemptAcquire(address);
    }

    public bool IsBlocked(string clientId, string address) =>
        Exhausted(_perClientAndAddress, PairKey(clientId, address)) || Exhausted(_perClient, clientId) || Exhausted(_perAddress, address);

    public void Dispose()
    {
        _perClientAndAddress.Dispose();
        _perClient.Dispose();
        _perAddress.Dispose();
    }

    private static bool Exhausted(PartitionedRateLimiter<string> limiter, string key) => limiter.GetStatistics(key)?.CurrentAvailablePermits == 0;

    // A line feed appears in neither a client id (form-encoded or Basic) nor an IP address.
    private static string PairKey(string clientId, string address) => clientId + "\n" + address;

    private static PartitionedRateLimiter<string> Create(int failuresPerMinute) => PartitionedRateLimiter.Create<string, string>(key =>
        RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = failuresPerMinute,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        }));

    public static string Address(HttpContext http) => http.Connection.RemoteIpAddress?.ToString() ?? "unknown";

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
        if (request?.ClientAssertion is { Length: > 0 and < 16_384 } assertion)
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

    /// <summary>
    /// The check, as the first step of OpenIddict's token request validation: it runs for whatever
    /// path OpenIddict recognises as its token endpoint (trailing slash, other casing) and after
    /// OpenIddict has moved HTTP Basic credentials into the request, so neither a path spelling nor the
    /// Basic header bypasses it.
    /// </summary>
    public sealed class Check(TokenEndpointThrottle throttle) : IOpenIddictServerHandler<ValidateTokenRequestContext>
    {
        public const string Description = "Too many refused authentications; retry in a minute.";

        public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
            OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
                .UseSingletonHandler<Check>()
                .SetOrder(OpenIddictServerHandlers.Exchange.ValidateGrantType.Descriptor.Order - 1_000)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ValidateTokenRequestContext context)
        {
            var http = context.Transaction.GetHttpRequest()?.HttpContext;
            if (http is null || !throttle.IsBlocked(ClientIdOf(context.Request), Address(http)))
            {
                return;
            }
            // Answered here, not through OpenIddict's error response: OAuth2 has no error code for 429.
            http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
            http.Response.Headers.RetryAfter = "60";
            http.Response.Headers.CacheControl = "no-store";
            await http.Response.WriteAsJsonAsync(new Dictionary<string, string>
            {
                ["error"] = OpenIddictConstants.Errors.InvalidClient,
                ["error_description"] = Description,
            }, http.RequestAborted);
            context.HandleRequest();
        }
    }
}
