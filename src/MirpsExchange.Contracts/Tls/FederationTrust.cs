using System.Net.Http;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Mirps.Tls;

/// <summary>
/// How every federation client (CLI, node-to-identity, node-to-node, tests) trusts servers: with a CA
/// file (the development CA from <c>mirps certs create</c>, or a State's own CA) only certificates
/// that chain to that CA and name the host are accepted, and the machine's root store is not consulted,
/// so a certificate from any other CA (public or private) is refused. Without a CA file the machine's
/// ordinary trust applies. There is deliberately no "accept any certificate" mode.
/// </summary>
public static class FederationTrust
{
    /// <summary>Reads a PEM (or DER) CA certificate; refuses a file that is not a CA.</summary>
    public static X509Certificate2 LoadCa(string caFile)
    {
        if (!File.Exists(caFile))
        {
            throw new FileNotFoundException($"The CA certificate file {caFile} does not exist (create one with `mirps certs create`).", caFile);
        }
        var ca = X509CertificateLoader.LoadCertificateFromFile(caFile);
        if (ca.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault() is not { CertificateAuthority: true })
        {
            ca.Dispose();
            throw new InvalidDataException($"{caFile} is not a CA certificate (its basic constraints do not say CA), so it cannot be trusted as one.");
        }
        return ca;
    }

    /// <summary>TLS web server authentication (extended key usage).</summary>
    public const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";

    /// <summary>TLS web client authentication (extended key usage): what a client certificate must allow.</summary>
    public const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";

    /// <summary>A chain policy that trusts exactly <paramref name="ca"/> as root (no system roots, no revocation lists for a development CA).</summary>
    public static X509ChainPolicy ChainPolicy(X509Certificate2 ca) => ChainPolicy(ca, ServerAuthentication);

    /// <summary>The same trust for a client certificate: chains to <paramref name="ca"/> alone and allows client authentication.</summary>
    public static X509ChainPolicy ClientChainPolicy(X509Certificate2 ca) => ChainPolicy(ca, ClientAuthentication);

    /// <summary>
    /// Builds <paramref name="certificate"/>'s chain with <paramref name="policy"/> and accepts it only when
    /// the federation CA issued it itself: exactly the certificate and the CA. A chain through an
    /// intermediate CA under the federation root (a State's own, say) is refused, since such a CA could
    /// mint any party's name (urn:mirps:secretariat).
    /// </summary>
    public static bool IssuedDirectlyByCa(X509Certificate2 certificate, X509ChainPolicy policy)
    {
        using var chain = new X509Chain { ChainPolicy = policy };
        try
        {
            return chain.Build(certificate) && IssuedDirectlyByCa(chain);
        }
        finally
        {
            foreach (var element in chain.ChainElements)
            {
                element.Certificate.Dispose();
            }
        }
    }

    /// <summary>The built chain is the certificate and the CA, nothing between them.</summary>
    public static bool IssuedDirectlyByCa(X509Chain? chain) => chain is { ChainElements.Count: 2 };

    private static X509ChainPolicy ChainPolicy(X509Certificate2 ca, string usage)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
        };
        policy.CustomTrustStore.Add(ca);
        // Only a certificate for that use: a client certificate from the same CA is not a server, nor the other way round.
        policy.ApplicationPolicy.Add(new System.Security.Cryptography.Oid(usage));
        return policy;
    }

    /// <summary>
    /// HTTP/2 flow-control window of each call: the server sends the next messages of a stream (a change
    /// feed's are about 1 MiB) while the client is still busy with the last one. With the default 64 KiB,
    /// which grows with the round-trip time and so hardly at all on a fast network, a feed's server waited
    /// for every read of the client and the two never worked at the same time. It bounds what a stream
    /// buffers unread: a Secretariat catching up with seven States holds at most 56 MiB of feed at once.
    /// </summary>
    public const int StreamWindowBytes = 8 * 1024 * 1024;

    /// <summary>
    /// The primary handler for HttpClient and GrpcChannel: with <paramref name="caFile"/>, TLS validation
    /// builds the server's chain against that CA alone (host name still checked); without it, system trust.
    /// A streamed response may run up to <see cref="StreamWindowBytes"/> ahead of its reader.
    /// </summary>
    /// <param name="clientCertificate">
    /// Presented when a server asks for one (mutual TLS: tokens bound to it, a peer's identity proven by it);
    /// see <see cref="LoadClientCertificate"/>.
    /// </param>
    public static SocketsHttpHandler CreateHandler(string? caFile, X509Certificate2? clientCertificate = null)
    {
        var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true };
        try
        {
            handler.InitialHttp2StreamWindowSize = StreamWindowBytes;
        }
        catch (ArgumentOutOfRangeException)
        {
            // The machine caps stream windows lower (DOTNET_SYSTEM_NET_HTTP_SOCKETSHTTPHANDLER_FLOWCONTROL_MAXSTREAMWINDOWSIZE): keep the default.
        }
        if (!string.IsNullOrEmpty(caFile))
        {
            handler.SslOptions.CertificateChainPolicy = ChainPolicy(LoadCa(caFile));
            // Chained to the CA and named for the address, and issued by the CA itself (no intermediate).
            handler.SslOptions.RemoteCertificateValidationCallback = (_, _, chain, errors) =>
                errors == System.Net.Security.SslPolicyErrors.None && IssuedDirectlyByCa(chain);
        }
        if (clientCertificate is not null)
        {
            handler.SslOptions.ClientCertificates = [clientCertificate];
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        }
        return handler;
    }

    /// <summary>
    /// A client certificate and its private key from PEM files (for example certs/pan-client.crt and
    /// .key from <c>mirps certs create</c>); refuses one that does not allow client authentication, so a
    /// wrong file fails here and not as an unexplained handshake error. Windows' TLS stack cannot use the
    /// ephemeral key PEM loading gives, so there the pair goes through a PKCS#12 round trip in memory.
    /// </summary>
    public static X509Certificate2 LoadClientCertificate(string certificateFile, string keyFile)
    {
        foreach (var file in new[] { certificateFile, keyFile })
        {
            if (!File.Exists(file))
            {
                throw new FileNotFoundException($"The client certificate file {file} does not exist (create one with `mirps certs create`).", file);
            }
        }
        var certificate = X509Certificate2.CreateFromPemFile(certificateFile, keyFile);
        var usages = certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault()?.EnhancedKeyUsages;
        if (usages is not null && !usages.Cast<System.Security.Cryptography.Oid>().Any(u => u.Value == ClientAuthentication))
        {
            certificate.Dispose();
            throw new InvalidDataException($"{certificateFile} does not allow TLS client authentication (extended key usage), so no server would accept it as a client certificate.");
        }
        if (!OperatingSystem.IsWindows())
        {
            return certificate;
        }
        using (certificate)
        {
            return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
        }
    }

    /// <summary>
    /// The same check as a validation callback, for components that only let us configure an
    /// <see cref="HttpClientHandler"/> (OpenIddict's System.Net.Http integration): refuses a missing
    /// certificate or a host-name mismatch, then builds the chain with <see cref="ChainPolicy"/>.
    /// </summary>
    public static Func<HttpRequestMessage, X509Certificate2?, X509Chain?, SslPolicyErrors, bool> ValidationCallback(string caFile)
    {
        var policy = ChainPolicy(LoadCa(caFile));
        return (_, certificate, _, errors) =>
        {
            if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNotAvailable | SslPolicyErrors.RemoteCertificateNameMismatch)) != 0)
            {
                return false;
            }
            return IssuedDirectlyByCa(certificate, policy.Clone());
        };
    }
}
