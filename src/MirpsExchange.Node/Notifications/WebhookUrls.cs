using System.Net;
using System.Net.Sockets;

namespace MirpsExchange.Node.Notifications;

/// <summary>
/// Which receivers a node may call (SSRF): https, or http to loopback only where the node allows loopback (development);
/// never the unspecified, multicast or broadcast address; loopback and link-local (cloud metadata at 169.254.169.254,
/// fd00:ec2::254) only where configured. Checked on the URL at subscription and again on every address a host name
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
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
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
        return null;
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
