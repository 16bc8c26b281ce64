using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace MirpsExchange.ServiceDefaults;

/// <summary>
/// Configuration section "Tls", shared by every server process (Tls__CertificateFile=... as environment
/// variables). Without a certificate a process listens in cleartext on loopback, as tests and the plain
/// local federation do; with one it serves HTTPS, and the clients it runs itself (token validation,
/// peer sync) trust only <see cref="CaFile"/> when it is set.
/// </summary>
public sealed class TlsOptions
{
    public const string Section = "Tls";

    /// <summary>PEM server certificate (for example certs/blz.crt from <c>mirps certs create</c>); empty: no TLS.</summary>
    public string CertificateFile { get; set; } = "";

    /// <summary>PEM private key of <see cref="CertificateFile"/> (unencrypted PKCS#8, readable only by the service's user).</summary>
    public string KeyFile { get; set; } = "";

    /// <summary>
    /// PEM certificate of the federation CA. The process's own clients trust it (alone) for other federation
    /// servers, and the server accepts client certificates (mutual TLS) only when they chain to it.
    /// Required with TLS.
    /// </summary>
    public string CaFile { get; set; } = "";

    public bool Enabled => CertificateFile.Length > 0;
}

public static class TlsExtensions
{
    /// <summary>Binds the "Tls" section and checks it at start-up, so a half-configured pair fails with the key to fix, not at the first handshake.</summary>
    public static TlsOptions AddTls(this IHostApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(TlsOptions.Section);
        builder.Services.AddOptions<TlsOptions>().Bind(section);
        var tls = section.Get<TlsOptions>() ?? new TlsOptions();
        if (tls.Enabled != (tls.KeyFile.Length > 0))
        {
            throw new InvalidOperationException("Configuration keys Tls:CertificateFile and Tls:KeyFile must be set together (or both left empty for no TLS).");
        }
        if (tls.Enabled && tls.CaFile.Length == 0)
        {
            throw new InvalidOperationException(
                "Configuration key Tls:CaFile must name the federation CA's certificate when TLS is on (for example certs/ca.crt): client certificates are checked against it, and the process's own clients trust it.");
        }
        foreach (var (key, file) in new[] { ("Tls:CertificateFile", tls.CertificateFile), ("Tls:KeyFile", tls.KeyFile), ("Tls:CaFile", tls.CaFile) })
        {
            if (file.Length > 0 && !File.Exists(file))
            {
                throw new InvalidOperationException($"Configuration key {key} names {file}, which does not exist (create development certificates with `mirps certs create`).");
            }
        }
        // Whoever reads the private key can pose as this server.
        OwnerOnlyFile.Require(tls.KeyFile, "Tls:KeyFile");
        return tls;
    }

    /// <summary>
    /// The address a server listens on, from its configuration key (<paramref name="key"/>; empty: 127.0.0.1).
    /// Anything but loopback needs TLS: tokens and data must not cross a network in cleartext.
    /// </summary>
    public static IPAddress ListenAddress(string? configured, string key, TlsOptions tls)
    {
        if (string.IsNullOrWhiteSpace(configured))
        {
            return IPAddress.Loopback;
        }
        if (!IPAddress.TryParse(configured, out var address))
        {
            throw new InvalidOperationException($"Configuration key {key} must be an IP address such as 127.0.0.1, 0.0.0.0 or ::; got '{configured}'.");
        }
        if (!IPAddress.IsLoopback(address) && !tls.Enabled)
        {
            throw new InvalidOperationException(
                $"Configuration key {key} is {address}, reachable from other machines: set Tls:CertificateFile and Tls:KeyFile too, so tokens and data never cross the network in cleartext.");
        }
        return address;
    }

    /// <summary>
    /// Serves HTTPS with the configured PEM pair, and asks every client for a certificate: one that does not
    /// chain to the federation CA (Tls:CaFile) alone, or does not allow client authentication, fails the
    /// handshake; a client without one still connects (health checks), but a token bound to a certificate
    /// is then refused. Does nothing when TLS is not configured.
    /// </summary>
    public static ListenOptions UseTls(this ListenOptions listen, TlsOptions tls)
    {
        if (tls.Enabled)
        {
            var policy = Mirps.Tls.FederationTrust.ClientChainPolicy(Mirps.Tls.FederationTrust.LoadCa(tls.CaFile));
            listen.UseHttps(new Microsoft.AspNetCore.Server.Kestrel.Https.HttpsConnectionAdapterOptions
            {
                ServerCertificate = LoadServerCertificate(tls),
                ClientCertificateMode = Microsoft.AspNetCore.Server.Kestrel.Https.ClientCertificateMode.AllowCertificate,
                // The machine's trust store has no say: the chain is built against the federation CA only.
                ClientCertificateValidation = (certificate, _, _) => Mirps.Tls.FederationTrust.IssuedDirectlyByCa(certificate, policy.Clone()),
            });
        }
        return listen;
    }

    /// <summary>
    /// The certificate with its private key. Windows' TLS stack cannot use the ephemeral key that PEM
    /// loading produces, so there the pair goes through a PKCS#12 round trip in memory.
    /// </summary>
    public static X509Certificate2 LoadServerCertificate(TlsOptions tls)
    {
        var certificate = X509Certificate2.CreateFromPemFile(tls.CertificateFile, tls.KeyFile);
        if (!OperatingSystem.IsWindows())
        {
            return certificate;
        }
        using (certificate)
        {
            return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
        }
    }
}
