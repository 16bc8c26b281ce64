using System.Net;
using System.Net.Sockets;

namespace MirpsExchange.Node.Notifications;

/// <summary>
/// Which receivers a node may call (SSRF): https, or http to loopback only where the node allows loopback (development);
/// never the unspecified, multicast or broadcast address; loopback, link-local (cloud metadata at 169.254.169.254,
/// fd00:ec2::254) and private networks only where configured, and then only for the subscriptions of the node's own party
/// (its State, or the Secretariat at the Secretariat's node) and the owners <see cref="WebhookOptions.TrustedOwners"/>
/// names: another State's subscription at the Secretariat's node never reaches the Secretariat's internal network. An IPv4
/// address wrapped in IPv6 (mapped, NAT64, 6to4) is judged as that IPv4 address. Checked on the URL at subscription and
/// again on every address a host name resolves to when a delivery connects (a name that resolves to a refused address
/// later is refused then). What a subscriber reads of a refusal names no address its host resolved to, nor whether it
/// resolved at all.
/// </summary>
public sealed partial class WebhookUrls(WebhookOptions options, string nodeOwner, WebhookHostResolver resolver, ILogger<WebhookUrls> logger)
{
    /// <summary>Whether the internal allowances (Webhooks:AllowLoopback, :AllowLinkLocal, :AllowPrivate) apply to a subscription of <paramref name="owner"/>.</summary>
    public bool Trusted(string owner) => owner == nodeOwner || options.TrustedOwners.Contains(owner, StringComparer.Ordinal) || options.TrustedOwners.Contains("*");

    /// <summary>Why <paramref name="text"/> is refused as a receiver's URL, or null: accepted.</summary>
    public string? Refusal(string text, string owner, out Uri? uri)
    {
        var trusted = Trusted(owner);
        uri = null;
        if (text.Length is 0 or > 2_000)
        {
            return "a receiver's URL is required, at most 2,000 characters";
        }
        if (!Uri.TryCreate(text, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("https" or "http") || parsed.Host.Length == 0)
        {
            return $"'{text}' is not an absolute https URL";
        }
        if (parsed.UserInfo.Length > 0 || parsed.Fragment.Length > 0)
        {
            return "a receiver's URL holds no user name, password or fragment";
        }
        var loopbackName = parsed.IsLoopback;
        if (IPAddress.TryParse(parsed.DnsSafeHost, out var address) && AddressRefusal(address, trusted) is { } refused)
        {
            return refused;
        }
        if (loopbackName && !(options.AllowLoopback && trusted))
        {
            return options.AllowLoopback
                ? "a receiver on this machine (loopback) is for the node's own party's subscriptions only (Webhooks:TrustedOwners)"
                : "a receiver on this machine (loopback) is refused: Webhooks:AllowLoopback is for development only";
        }
        if (parsed.Scheme == "http" && !loopbackName)
        {
            return "a receiver's URL must be https (plain http only to loopback in development)";
        }
        uri = parsed;
        return null;
    }

    /// <summary>Why a delivery may not connect to <paramref name="address"/>, or null; <paramref name="trusted"/>: for a subscription the internal allowances apply to (<see cref="Trusted"/>).</summary>
    public string? AddressRefusal(IPAddress address, bool trusted)
    {
        var given = address;
        address = Unwrapped(address);
        if (!address.Equals(given))
        {
            return AddressRefusal(address, trusted) is { } wrapped ? $"{given} reaches {address}: {wrapped}" : null;
        }
        var (allowLoopback, allowLinkLocal, allowPrivate) = trusted ? (options.AllowLoopback, options.AllowLinkLocal, options.AllowPrivate) : (false, false, false);
        var only = trusted ? "" : " (and then only for the node's own party and Webhooks:TrustedOwners)";
        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast) || address.IsIPv6Multicast
            || (address.AddressFamily == AddressFamily.InterNetwork && address.GetAddressBytes()[0] is >= 224))
        {
            return $"{address} is not a receiver's address (unspecified, multicast or broadcast)";
        }
        if (IPAddress.IsLoopback(address) && !allowLoopback)
        {
            return $"{address} is this machine (loopback): refused unless Webhooks:AllowLoopback (development){only}";
        }
        var bytes = address.GetAddressBytes();
        var linkLocal = address.IsIPv6LinkLocal
            || (address.AddressFamily == AddressFamily.InterNetwork && bytes[0] == 169 && bytes[1] == 254)
            // Cloud metadata outside link-local: AWS's IPv6 endpoint, Alibaba's.
            || address.Equals(IPAddress.Parse("fd00:ec2::254")) || address.Equals(IPAddress.Parse("100.100.100.200"));
        if (linkLocal && !allowLinkLocal)
        {
            return $"{address} is link-local or a cloud metadata address: refused unless Webhooks:AllowLinkLocal{only}";
        }
        if (IsPrivate(address) && !allowPrivate)
        {
            return $"{address} is on a private network (RFC 1918, unique local fc00::/7, shared 100.64.0.0/10, local-use NAT64): refused unless Webhooks:AllowPrivate{only}";
        }
        return null;
    }

    /// <summary>
    /// The IPv4 address an IPv6 address reaches when it wraps one: IPv4-mapped (::ffff:a.b.c.d), NAT64's well-known prefix
    /// (64:ff9b::a.b.c.d, RFC 6052) and 6to4 (2002:aabb:ccdd::/48, RFC 3056); else the address itself.
    /// </summary>
    private static IPAddress Unwrapped(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address;
        }
        var bytes = address.GetAddressBytes();
        if (bytes.AsSpan(0, 4).SequenceEqual(Nat64Prefix) && bytes.AsSpan(4, 8).IndexOfAnyExcept((byte)0) < 0)
        {
            return new IPAddress(bytes.AsSpan(12, 4));
        }
        return bytes[0] == 0x20 && bytes[1] == 0x02 ? new IPAddress(bytes.AsSpan(2, 4)) : address;
    }

    private static ReadOnlySpan<byte> Nat64Prefix => [0x00, 0x64, 0xff, 0x9b];

    /// <summary>10/8, 172.16/12, 192.168/16, 100.64/10 (shared CGNAT); fc00::/7 (unique local), fec0::/10 (site-local), 64:ff9b:1::/48 (local-use NAT64).</summary>
    private static bool IsPrivate(IPAddress address)
    {
        var b = address.GetAddressBytes();
        return address.AddressFamily == AddressFamily.InterNetwork
            ? b[0] == 10 || (b[0] == 172 && b[1] is >= 16 and <= 31) || (b[0] == 192 && b[1] == 168) || (b[0] == 100 && b[1] is >= 64 and <= 127)
            : (b[0] & 0xfe) == 0xfc || address.IsIPv6SiteLocal || (b.AsSpan(0, 4).SequenceEqual(Nat64Prefix) && b[4] == 0 && b[5] == 1);
    }

    /// <summary>
    /// The connection a delivery opens for a subscription <paramref name="trusted"/> or not (<see cref="Trusted"/>; each kind
    /// has its own connection pool, so one never reuses a connection the other was allowed): the host resolved here, every
    /// address checked (<see cref="AddressRefusal"/>), the first allowed one connected, so a name cannot be pointed at a
    /// refused address between the check and the connect. A host that does not resolve, resolves only to refused addresses,
    /// refuses the connection or does not take it within Webhooks:ConnectTimeout (filtered) reads the same to the subscriber (<see cref="Unreachable(string)"/>): its delivery log does
    /// not tell which names resolve inside the node's network. The node's log says which it was.
    /// </summary>
    public Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> Connector(bool trusted) => async (context, cancellationToken) =>
    {
        var host = context.DnsEndPoint.Host;
        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await resolver.ResolveAsync(host, cancellationToken);
        }
        catch (SocketException e)
        {
            throw Unreachable(host, $"it does not resolve ({e.SocketErrorCode})");
        }
        var allowed = addresses.Where(a => AddressRefusal(a, trusted) is null).ToArray();
        if (allowed.Length == 0)
        {
            throw Unreachable(host, addresses.Length == 0 ? "it does not resolve" : "refused: " + string.Join("; ", addresses.Select(a => AddressRefusal(a, trusted))));
        }
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var connectTimeout = options.EffectiveConnectTimeout;
        using var connecting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connecting.CancelAfter(connectTimeout);
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, connecting.Token);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw Unreachable(host, $"connecting to {Addresses(allowed)} port {context.DnsEndPoint.Port} failed ({e.SocketErrorCode})");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // A filtered host (no answer at all) reads as a refused one, not as the request's own timeout (Webhooks:ConnectTimeout).
            socket.Dispose();
            throw Unreachable(host, $"connecting to {Addresses(allowed)} port {context.DnsEndPoint.Port} took longer than {connectTimeout.TotalSeconds:0.###} s (Webhooks:ConnectTimeout)");
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    };

    private static string Addresses(IEnumerable<IPAddress> addresses) => string.Join(", ", addresses.Select(a => a.ToString()));

    /// <summary>
    /// What a subscriber reads when a delivery could not connect to <paramref name="host"/>, whatever the cause: it does not
    /// resolve, it resolves only to addresses the node does not call for this subscription, or the connection is refused.
    /// Telling them apart would tell a State which host names resolve inside the node's network (hostile-review finding H).
    /// </summary>
    public static string Unreachable(string host) =>
        $"could not connect to {host} (it does not resolve, resolves only to addresses this node does not call, or refused the connection; the node's log says which)";

    /// <summary>The cause in the node's log (its operators), the same words for every cause to the subscriber.</summary>
    private WebhookConnectException Unreachable(string host, string cause)
    {
        LogUnreachable(logger, host, cause);
        return new WebhookConnectException(Unreachable(host));
    }

    /// <summary>
    /// What a subscriber reads of a failed attempt (its delivery log, its subscription's last error): the HTTP-level cause and
    /// the receiver's host as given, never an address it resolved to, whether it resolved at all, an internal exception's
    /// text, or the node's paths.
    /// </summary>
    public static string Describe(HttpRequestException e, Uri url) =>
        e.InnerException as WebhookConnectException is { } connect ? connect.Message
        : e.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError or HttpRequestError.ConnectionError => Unreachable(url.Host),
            HttpRequestError.SecureConnectionError => $"the TLS connection to {url.Host} failed (its certificate is not trusted, or names another host)",
            HttpRequestError.ResponseEnded => "the receiver closed the connection before it answered",
            HttpRequestError.InvalidResponse => "the receiver's answer is not valid HTTP",
            HttpRequestError.HttpProtocolError => "HTTP protocol error",
            HttpRequestError.ProxyTunnelError => "proxy error",
            HttpRequestError.ConfigurationLimitExceeded => "the receiver's answer exceeds a limit",
            HttpRequestError.UserAuthenticationError => "authentication error",
            HttpRequestError.VersionNegotiationError => "HTTP version negotiation failed",
            _ => "the request failed",
        };

    [LoggerMessage(EventName = "WebhookReceiverUnreachable", Level = LogLevel.Information,
        Message = "A webhook delivery could not connect to {Host}: {Cause}")]
    private static partial void LogUnreachable(ILogger logger, string host, string cause);
}

/// <summary>Why a delivery's connection was not made, in words a subscriber may read (no resolved address).</summary>
public sealed class WebhookConnectException(string message) : IOException(message);

/// <summary>How a delivery resolves a receiver's host name (the system's DNS; a test gives its own answers).</summary>
public class WebhookHostResolver
{
    public virtual Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken) => Dns.GetHostAddressesAsync(host, cancellationToken);
}
