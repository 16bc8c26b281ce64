namespace Mirps.Tls;

/// <summary>
/// The one rule for plain <c>http://</c>, for every client and server of the federation (the CLI's
/// addresses, a node's issuer and peers): whatever travels over it (a client secret, a bearer token, the
/// signing keys a node trusts, data) can be read and changed by anyone on the path, so it is allowed only
/// to this machine's loopback (tests, the local federation). Everything else must use https.
/// </summary>
public static class Cleartext
{
    /// <summary>
    /// True for https, and for http to "localhost" or a loopback address (127.0.0.0/8, ::1): <see cref="Uri.IsLoopback"/>
    /// looks at the address as written, never at what a name resolves to, so nothing is looked up.
    /// </summary>
    public static bool IsAllowed(Uri address) => address.Scheme != Uri.UriSchemeHttp || address.IsLoopback;

    /// <summary>
    /// Why <paramref name="address"/> (given as <paramref name="name"/>: an option or a configuration key) is refused,
    /// or null when it is allowed.
    /// </summary>
    public static string? Refusal(string name, Uri address) => IsAllowed(address)
        ? null
        : $"{name} is {address}: plain http:// would carry secrets and tokens across the network in cleartext; "
            + "use https://, or http:// only to this machine (127.0.0.1, ::1, localhost)";
}
