using System.Collections.Concurrent;
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
/// <item>Wrong passwords also count per user name over all addresses (<see cref="IdentityOptions.SignInFailuresPerAccount"/>),
/// a budget that slows and never locks: while it is full, logins for that name are answered 429 from every
/// address except those that gave that name's right password within <see cref="KnownSourceLifetime"/>, so
/// guesses spread over many addresses (an IPv6 /48 holds 65,536 /64s) stay few while the owner keeps signing
/// in from where they did before. Identity's lockout counts only wrong TOTP codes, which only someone who
/// knows the password can send.</item>
/// <item>Keys are bounded: a (user name, address) key is added only for a well-formed user name and while
/// its address is below its limit; a refused request adds nothing.</item>
/// </list>
/// </summary>
public sealed partial class SignInThrottle
{
    private readonly WindowCounts _postsPerAddress;
    private readonly WindowCounts _failuresPerNameAndAddress;
    private readonly WindowCounts _failuresPerAddress;
    private readonly WindowCounts _failuresPerName;
    // (user name, address) pairs that gave the right password, and until when they count as the owner's.
    private readonly ConcurrentDictionary<string, long> _knownSources = new(StringComparer.Ordinal);
    private readonly TimeProvider _clock;
    private long _nextKnownSweep;
    private readonly ILogger<SignInThrottle> _logger;

    public SignInThrottle(IOptions<IdentityOptions> options, TimeProvider clock, IMeterFactory meters, ILogger<SignInThrottle> logger)
    {
        _logger = logger;
        var limits = options.Value;
        _postsPerAddress = new WindowCounts(limits.SignInPostsPerAddressPerMinute, TimeSpan.FromMinutes(1), clock);
        _failuresPerNameAndAddress = new WindowCounts(limits.SignInFailuresPerAccountAndAddress, limits.SignInLockout, clock);
        _failuresPerAddress = new WindowCounts(limits.SignInFailuresPerAddress, limits.SignInLockout, clock);
        _failuresPerName = new WindowCounts(limits.SignInFailuresPerAccount, limits.SignInLockout, clock);
        _clock = clock;
        meters.Create(IdentityExtensions.MeterName).CreateObservableGauge("mirps.identity.signin_throttle.keys", () => TrackedKeys,
            unit: "{key}", description: "Keys (addresses, user name and address pairs) the sign-in throttle holds counts for.");
    }

    /// <summary>How many keys the throttle holds counts for, over all its windows.</summary>
    public int TrackedKeys => _postsPerAddress.Keys + _failuresPerNameAndAddress.Keys + _failuresPerAddress.Keys + _failuresPerName.Keys + _knownSources.Count;

    /// <summary>How long an address that gave a user name's right password keeps signing in while that name's budget is spent.</summary>
    public static readonly TimeSpan KnownSourceLifetime = TimeSpan.FromDays(30);

    /// <summary>Counts a form posted from <paramref name="address"/>; the time to wait when its window was already full.</summary>
    public TimeSpan? CountPost(string address) =>
        _postsPerAddress.TryCount(address) ? null : _postsPerAddress.RetryAfter(address) ?? TimeSpan.FromMinutes(1);

    /// <summary>While <paramref name="address"/> may not try a password for <paramref name="userName"/>, the time to wait; otherwise null.</summary>
    public TimeSpan? RefusalFor(string userName, string address) =>
        _failuresPerAddress.RetryAfter(address)
        ?? (AccountAdministration.IsWellFormedUserName(userName)
            ? _failuresPerNameAndAddress.RetryAfter(PairKey(userName, address)) ?? (IsKnown(PairKey(userName, address)) ? null : _failuresPerName.RetryAfter(userName))
            : null);

    /// <summary>Records the right password for <paramref name="userName"/> from <paramref name="address"/>: that address is the owner's for a while.</summary>
    public void RecordSuccess(string userName, string address)
    {
        var now = _clock.GetTimestamp();
        _knownSources[PairKey(userName, address)] = now + (long)(KnownSourceLifetime.TotalSeconds * _clock.TimestampFrequency);
        var next = Volatile.Read(ref _nextKnownSweep);
        if (now >= next && Interlocked.CompareExchange(ref _nextKnownSweep, now + _clock.TimestampFrequency * 3600, next) == next)
        {
            foreach (var entry in _knownSources)
            {
                if (entry.Value <= now)
                {
                    _knownSources.TryRemove(entry);
                }
            }
        }
    }

    private bool IsKnown(string pair) => _knownSources.TryGetValue(pair, out var until) && until > _clock.GetTimestamp();

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
        if (!AccountAdministration.IsWellFormedUserName(userName))
        {
            return;
        }
        if (_failuresPerNameAndAddress.TryCount(PairKey(userName, address)) && _failuresPerNameAndAddress.RetryAfter(PairKey(userName, address)) is not null)
        {
            LogPairFull(_logger, userName, address);
        }
        if (_failuresPerName.TryCount(userName) && _failuresPerName.RetryAfter(userName) is not null)
        {
            LogNameFull(_logger, userName);
        }
    }

    [LoggerMessage(EventName = "SignInThrottledForName", Level = LogLevel.Warning,
        Message = "Repeated wrong passwords for user name {UserName} from {RemoteAddress}: its logins for that name are refused for a while (the account itself is not locked)")]
    private static partial void LogPairFull(ILogger logger, string userName, string remoteAddress);

    [LoggerMessage(EventName = "SignInThrottledForAccount", Level = LogLevel.Warning,
        Message = "Repeated wrong passwords for user name {UserName} from many addresses: its logins are refused for a while except from addresses that signed in to it before (the account itself is not locked)")]
    private static partial void LogNameFull(ILogger logger, string userName);

    [LoggerMessage(EventName = "SignInThrottledForAddress", Level = LogLevel.Warning,
        Message = "Repeated wrong passwords from {RemoteAddress}: its logins are refused for a while")]
    private static partial void LogAddressFull(ILogger logger, string remoteAddress);

    // A line feed appears neither in a well-formed user name nor in an IP address.
    private static string PairKey(string userName, string address) => userName + "\n" + address;
}
