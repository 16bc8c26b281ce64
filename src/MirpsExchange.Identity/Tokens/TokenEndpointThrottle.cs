using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using Mirps.Auth;

namespace MirpsExchange.Identity.Tokens;

/// <summary>
/// Slows down secret guessing: refused client authentications are counted per client id and per remote
/// address (ASP.NET Core's fixed-window rate limiters); while either has no permits left, the token
/// endpoint answers 429 with one body for every client id, existing or not. Successful requests are not
/// counted, so busy legitimate clients are never throttled by this.
/// </summary>
public sealed class TokenEndpointThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<string> _perClient;
    private readonly PartitionedRateLimiter<string> _perAddress;

    public TokenEndpointThrottle(IOptions<IdentityOptions> options)
    {
        var limits = options.Value;
        _perClient = Create(limits.FailedAuthenticationsPerClient);
        _perAddress = Create(limits.FailedAuthenticationsPerAddress);
    }

    /// <summary>Records a refused client authentication.</summary>
    public void RecordFailure(string clientId, string address)
    {
        using var client = _perClient.AttemptAcquire(clientId);
        using var remote = _perAddress.AttemptAcquire(address);
    }

    public bool IsBlocked(string clientId, string address) =>
        _perClient.GetStatistics(clientId)?.CurrentAvailablePermits == 0 || _perAddress.GetStatistics(address)?.CurrentAvailablePermits == 0;

    public void Dispose()
    {
        _perClient.Dispose();
        _perAddress.Dispose();
    }

    private static PartitionedRateLimiter<string> Create(int failuresPerMinute) => PartitionedRateLimiter.Create<string, string>(key =>
        RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = failuresPerMinute,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        }));

    /// <summary>The middleware in front of the token endpoint.</summary>
    public static IApplicationBuilder UseTokenEndpointThrottle(IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        if (HttpMethods.IsPost(http.Request.Method) && http.Request.Path == "/" + MirpsAuth.TokenEndpointPath && http.Request.HasFormContentType)
        {
            var form = await http.Request.ReadFormAsync(http.RequestAborted);
            var throttle = http.RequestServices.GetRequiredService<TokenEndpointThrottle>();
            if (throttle.IsBlocked(form["client_id"].ToString(), Address(http)))
            {
                http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                http.Response.Headers.RetryAfter = "60";
                await http.Response.WriteAsJsonAsync(new Dictionary<string, string>
                {
                    ["error"] = "invalid_client",
                    ["error_description"] = "Too many refused authentications; retry in a minute.",
                }, http.RequestAborted);
                return;
            }
        }
        await next(http);
    });

    public static string Address(HttpContext http) => http.Connection.RemoteIpAddress?.ToString() ?? "unknown";
}
