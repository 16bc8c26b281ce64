using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using MirpsExchange.Identity.Extensions;
using MirpsExchange.Identity.Tokens;

namespace MirpsExchange.Identity.Accounts;

/// <summary>
/// What one source address can make the sign-in forms do, bounded so that no one can use the bounds
/// against someone else (fixed windows, <see cref="WindowCounts"/>; an address as the token endpoint
/// counts it, <see cref="TokenEndpointThrottle.Address"/>: IPv6 by its /64):
/// <list type="bullet">
/// <item>Every form posted (login, TOTP code, enrolment, password change) counts per address
/// (<see cref="IdentityOptions.SignInPostsPerAddressPerMinute"/>); over it, 429 with Retry-After.</item>
/// <item>Wrong passwords count per (user name, address) (<see cref="IdentityOptions.SignInFailuresPerAccountAndAddress"/>)
/// and per address (<see cref="IdentityOptions.SignInFailuresPerAddress"/>), both over
/// <see cref="IdentityOptions.SignInLockout"/>; while either is full, that address's logins for that name
/// are answered 429 before any password is checked. Unknown user names, disabled accounts and wrong
/// passwords count alike and get one answer, so the throttle tells no one which names exist.</item>
/// <item>Nothing is counted per account over all addresses: a user name is no secret, and such a count
/// would let anyone lock the owner out (what Identity's lockout did for passwords). Identity's lockout
/// counts only wrong TOTP codes, which only someone who knows the password can send.</item>
/// <item>Keys are bounded: a (user name, address) key is added only for a well-formed user name and while
/// its address is below its limit; a refused request adds nothing.</item>
/// </list>
/// </summary>
public sealed partial class SignInThrottle
{
    private readonly WindowCounts _postsPerAddress;
    private readonly WindowCounts _failuresPerNameAndAddress;
    private readonly WindowCounts _failuresPerAddress;
    private readonly ILogger<SignInThrottle> _logger;

    public SignInThrottle(IOptions<IdentityOptions> options, TimeProvider clock, IMeterFactory meters, ILogger<SignInThrottle> logger)
    {
        _logger = logger;
        var limits = options.Value;
        _postsPerAddress = new WindowCounts(limits.SignInPostsPerAddressPerMinute, TimeSpan.FromMinutes(1), clock);
        _failuresPerNameAndAddress = new WindowCounts(limits.SignInFailuresPerAccountAndAddress, limits.SignInLockout, clock);
        _failuresPerAddress = new WindowCounts(limits.SignInFailuresPerAddress, limits.SignInLockout, clock);
        meters.Create(IdentityExtensions.MeterName).CreateObservableGauge("mirps.identity.signin_throttle.keys", () => TrackedKeys,
            unit: "{key}", description: "Keys (addresses, user name and address pairs) the sign-in throttle holds counts for.");
    }

    /// <summary>How many keys the throttle holds counts for, over all its windows.</summary>
    public int TrackedKeys => _postsPerAddress.Keys + _failuresPerNameAndAddress.Keys + _failuresPerAddress.Keys;

    /// <summary>Counts a form posted from <paramref name="address"/>; the time to wait when its window was already full.</summary>
    public TimeSpan? CountPost(string address) =>
        _postsPerAddress.TryCount(address) ? null : _postsPerAddress.RetryAfter(address) ?? TimeSpan.FromMinutes(1);

    /// <summary>While <paramref name="address"/> may not try a password for <paramref name="userName"/>, the time to wait; otherwise null.</summary>
    public TimeSpan? RefusalFor(string userName, string address) =>
        _failuresPerAddress.RetryAfter(address)
        ?? (AccountAdministration.IsWellFormedUserName(userName) ? _failuresPerNameAndAddress.RetryAfter(PairKey(userName, address)) : null);

    /// <summary>Records a refused password (or unknown name, or disabled account) from <paramref name="address"/>.</summary>
    public void RecordFailure(string userName, string address)
    {
        if (!_failuresPerAddress.TryCount(address))
        {
            return;
        }
        if (_failuresPerAddress.RetryAfter(address) is not null)
        {
            LogAddressFull(_logger, address);
        }
        if (AccountAdministration.IsWellFormedUserName(userName) && _failuresPerNameAndAddress.TryCount(PairKey(userName, address))
            && _failuresPerNameAndAddress.RetryAfter(PairKey(userName, address)) is not null)
        {
            LogPairFull(_logger, userName, address);
        }
    }

    [LoggerMessage(EventName = "SignInThrottledForName", Level = LogLevel.Warning,
        Message = "Repeated wrong passwords for user name {UserName} from {RemoteAddress}: its logins for that name are refused for a while (the account itself is not locked)")]
    private static partial void LogPairFull(ILogger logger, string userName, string remoteAddress);

    [LoggerMessage(EventName = "SignInThrottledForAddress", Level = LogLevel.Warning,
        Message = "Repeated wrong passwords from {RemoteAddress}: its logins are refused for a while")]
    private static partial void LogAddressFull(ILogger logger, string remoteAddress);

    // A line feed appears neither in a well-formed user name nor in an IP address.
    private static string PairKey(string userName, string address) => userName + "\n" + address;
}
