using System.Net;
using System.Net.Sockets;

namespace MirpsExchange.Node.Notifications;

/// <summary>
/// Which receivers a node may call (SSRF): https, or http to loopback only where the node allows loopback (development);
/// never the unspecified, multicast or broadcast address; loopback, link-local (cloud metadata at 169.254.169.254,
/// fd00:ec2::254) and private networks only where configured; an IPv4 address wrapped in IPv6 (mapped, NAT64, 6to4) is
/// judged as that IPv4 address. Checked on the URL at subscription and again on every address a host name
/// resolves to when a delivery connects (a name that resolves to a refused address later is refused then).
/// </summary>
public sealed class WebhookUrls(WebhookOptions options)
{
    /// <summary>Why <paramref name="text"/> is refused as a receiver's URL, or null: accepted.</summary>
    public string? Refusal(string text, out Uri? uri)
    {
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
        if (IPAddress.TryParse(parsed.DnsSafeHost, out var address) && AddressRefusal(address) is { } refused)
        {
            return refused;
        }
        if (loopbackName && !options.AllowLoopback)
        {
            return "a receiver on this machine (loopback) is refused: Webhooks:AllowLoopback is for development only";
        }
        if (parsed.Scheme == "http" && !loopbackName)
        {
            return "a receiver's URL must be https (plain http only to loopback in development)";
        }
        uri = parsed;
        return null;
    }

    /// <summary>Why a delivery may not connect to <paramref name="address"/>, or null.</summary>
    public string? AddressRefusal(IPAddress address)
    {
        var given = address;
        address = Unwrapped(address);
        if (!address.Equals(given))
        {
            return AddressRefusal(address) is { } wrapped ? $"{given} reaches {address}: {wrapped}" : null;
        }
        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast) || address.IsIPv6Multicast
            || (address.AddressFamily == AddressFamily.InterNetwork && address.GetAddressBytes()[0] is >= 224))
        {
            return $"{address} is not a receiver's address (unspecified, multicast or broadcast)";
        }
        if (IPAddress.IsLoopback(address) && !options.AllowLoopback)
        {
            return $"{address} is this machine (loopback): refused unless Webhooks:AllowLoopback (development)";
        }
        var bytes = address.GetAddressBytes();
        var linkLocal = address.IsIPv6LinkLocal
            || (address.AddressFamily == AddressFamily.InterNetwork && bytes[0] == 169 && bytes[1] == 254)
            // Cloud metadata outside link-local: AWS's IPv6 endpoint, Alibaba's.
            || address.Equals(IPAddress.Parse("fd00:ec2::254")) || address.Equals(IPAddress.Parse("100.100.100.200"));
        if (linkLocal && !options.AllowLinkLocal)
        {
            return $"{address} is link-local or a cloud metadata address: refused unless Webhooks:AllowLinkLocal";
        }
        if (IsPrivate(address) && !options.AllowPrivate)
        {
            return $"{address} is on a private network (RFC 1918, unique local fc00::/7, shared 100.64.0.0/10, local-use NAT64): refused unless Webhooks:AllowPrivate";
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
    /// The connection a delivery opens: the host resolved here, every address checked (<see cref="AddressRefusal"/>), the
    /// first allowed one connected, so a name cannot be pointed at a refused address between the check and the connect.
    /// </summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
        var allowed = addresses.Where(a => AddressRefusal(a) is null).ToArray();
        if (allowed.Length == 0)
        {
            throw new HttpRequestException(addresses.Length == 0 ? $"{host} does not resolve" : $"refused: {AddressRefusal(addresses[0])}");
        }
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
