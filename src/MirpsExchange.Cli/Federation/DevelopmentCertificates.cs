using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;
using Mirps.Tls;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Cli.Federation;

/// <summary>
/// The development CA and the federation's server certificates, made with nothing but the .NET SDK
/// (System.Security.Cryptography), as PEM files: ca.crt/ca.key and name.crt/name.key per service.
/// Private keys are owner-only. An existing CA is kept (certificates already issued and every client's
/// trust stay valid); a service certificate is kept while it chains to that CA and is not near expiry.
/// For development and the local federation only: a State in production uses certificates from its own PKI.
/// </summary>
public static partial class DevelopmentCertificates
{
    public const string CaName = "ca";

    /// <summary>Suffix of a client certificate's name: <c>pan-client</c> is the certificate PAN's national systems present.</summary>
    public const string ClientSuffix = "-client";

    private static readonly string[] Nodes = ["blz", "cri", "slv", "gtm", "hnd", "mex", "pan", "secretariat"];

    /// <summary>
    /// The federation's certificates: the identity server, the seven State nodes and the Secretariat's
    /// (each node's both serves and, as a client, pulls from peers), and a client certificate per State,
    /// for the Secretariat and for the admins.
    /// </summary>
    public static readonly IReadOnlyList<string> DefaultNames =
        ["identity", .. Nodes, .. Nodes.Select(ClientName), ClientName(FederationIdentity.Admin)];

    /// <summary>The client certificate's name of a party: "pan-client", "secretariat-client", "admin-client".</summary>
    public static string ClientName(string party) => party.ToLowerInvariant() + ClientSuffix;

    /// <summary>What a certificate of that name is: a server, a node (server and client), or a client; and the party it names.</summary>
    private static (bool Server, bool Client, string? Party) Profile(string name)
    {
        if (name.EndsWith(ClientSuffix, StringComparison.Ordinal))
        {
            var party = name[..^ClientSuffix.Length];
            if (Nodes.Contains(party) || party == FederationIdentity.Admin)
            {
                return (false, true, FederationIdentity.Normalize(party));
            }
        }
        return Nodes.Contains(name) ? (true, true, FederationIdentity.Normalize(name)) : (true, false, null);
    }

    private static readonly TimeSpan CaValidity = TimeSpan.FromDays(2 * 365);
    private static readonly TimeSpan ServerValidity = TimeSpan.FromDays(397);
    /// <summary>A certificate closer than this to its end is replaced on the next run rather than kept.</summary>
    private static readonly TimeSpan RenewBefore = TimeSpan.FromDays(30);

    /// <summary>What a run did to one file pair.</summary>
    public sealed record Outcome(string Name, string CertificateFile, string KeyFile, bool Created);

    public static string CertificateFile(string folder, string name) => Path.Combine(folder, $"{name}.crt");

    public static string KeyFile(string folder, string name) => Path.Combine(folder, $"{name}.key");

    /// <summary>
    /// Makes (or keeps) the CA and a server certificate per name in <paramref name="folder"/>; the CA's
    /// outcome comes first. <paramref name="force"/> replaces the CA and every named certificate.
    /// </summary>
    public static IReadOnlyList<Outcome> Ensure(string folder, IEnumerable<string> names, bool force = false)
    {
        var list = names.Select(n => n.Trim().ToLowerInvariant()).Distinct().ToList();
        if (list.FirstOrDefault(n => !ValidName().IsMatch(n) || n == CaName) is { } bad)
        {
            throw new ArgumentException($"'{bad}' is not a usable service name: lower-case letters, digits and '-', not '{CaName}'.");
        }
        if (!Directory.Exists(folder))
        {
            OwnerOnlyFile.CreateDirectory(folder); // an existing folder (certs/ beside its README) keeps its mode: the keys in it are owner-only
        }
        var now = DateTimeOffset.UtcNow;
        var outcomes = new List<Outcome>();

        X509Certificate2? ca = null;
        if (!force && TryLoad(folder, CaName, out var existing) && existing.NotAfter.ToUniversalTime() >= now + RenewBefore)
        {
            ca = existing;
        }
        var caCreated = ca is null;
        ca ??= CreateCa(folder, now);
        using (ca)
        {
            outcomes.Add(new Outcome(CaName, CertificateFile(folder, CaName), KeyFile(folder, CaName), caCreated));
            foreach (var name in list)
            {
                var keep = !force && !caCreated && TryLoad(folder, name, out var current) && IsCurrent(name, current, ca, now);
                if (!keep)
                {
                    Issue(folder, name, ca, now).Dispose();
                }
                outcomes.Add(new Outcome(name, CertificateFile(folder, name), KeyFile(folder, name), !keep));
            }
        }
        return outcomes;
    }

    private static X509Certificate2 CreateCa(string folder, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=MirpsExchange Development CA {now:yyyy-MM-dd}, O=MirpsExchange (development only)", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var ca = request.CreateSelfSigned(now.AddMinutes(-5), now + CaValidity);
        Write(folder, CaName, ca, key);
        return ca;
    }

    /// <summary>
    /// A server certificate (the identity server), a node's (server and client authentication, naming its
    /// State or the Secretariat) or a client certificate (client authentication only, naming its party).
    /// </summary>
    private static X509Certificate2 Issue(string folder, string name, X509Certificate2 ca, DateTimeOffset now)
    {
        var (server, client, party) = Profile(name);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}, O=MirpsExchange (development only)", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        if (server)
        {
            // What clients dial on one machine, plus the service name for a container network where it is the host name.
            names.AddDnsName("localhost");
            names.AddDnsName(name);
            names.AddIpAddress(IPAddress.Loopback);
            names.AddIpAddress(IPAddress.IPv6Loopback);
        }
        if (party is not null)
        {
            names.AddUri(FederationIdentity.UriOf(party));
        }
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        var usages = new OidCollection();
        if (server)
        {
            usages.Add(new Oid(FederationTrust.ServerAuthentication));
        }
        if (client)
        {
            usages.Add(new Oid(FederationTrust.ClientAuthentication));
        }
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var notAfter = now + ServerValidity < ca.NotAfter.ToUniversalTime() ? now + ServerValidity : new DateTimeOffset(ca.NotAfter.ToUniversalTime());
        var certificate = request.Create(ca, now.AddMinutes(-5), notAfter, RandomNumberGenerator.GetBytes(16).Select((b, i) => i == 0 ? (byte)(b & 0x7F) : b).ToArray());
        Write(folder, name, certificate, key);
        return certificate;
    }

    /// <summary>The certificate first, then the key (owner-only), each replaced whole: a reader never sees half a file.</summary>
    private static void Write(string folder, string name, X509Certificate2 certificate, ECDsa key)
    {
        var certificateFile = CertificateFile(folder, name);
        var temporary = $"{certificateFile}.{Guid.NewGuid():N}.tmp";
        File.WriteAllText(temporary, certificate.ExportCertificatePem() + "\n");
        File.Move(temporary, certificateFile, overwrite: true);
        OwnerOnlyFile.WriteAllText(KeyFile(folder, name), key.ExportPkcs8PrivateKeyPem() + "\n");
    }

    private static bool TryLoad(string folder, string name, out X509Certificate2 certificate)
    {
        certificate = null!;
        if (!File.Exists(CertificateFile(folder, name)) || !File.Exists(KeyFile(folder, name)))
        {
            return false;
        }
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(CertificateFile(folder, name), KeyFile(folder, name));
            return true;
        }
        catch (CryptographicException)
        {
            return false; // unreadable or a key that does not match: made anew
        }
    }

    /// <summary>
    /// Signed by <paramref name="ca"/> (verified, not just the issuer's name), valid for a while yet, and of
    /// the profile its name calls for (a certificate from an earlier version, without client authentication
    /// or the party it names, is made anew).
    /// </summary>
    private static bool IsCurrent(string name, X509Certificate2 certificate, X509Certificate2 ca, DateTimeOffset now)
    {
        using (certificate)
        {
            var (server, client, party) = Profile(name);
            if (certificate.NotAfter.ToUniversalTime() < now + RenewBefore || FederationIdentity.PartyOf(certificate) != party)
            {
                return false;
            }
            using var chain = new X509Chain { ChainPolicy = server ? FederationTrust.ChainPolicy(ca) : FederationTrust.ClientChainPolicy(ca) };
            if (client)
            {
                chain.ChainPolicy.ApplicationPolicy.Add(new Oid(FederationTrust.ClientAuthentication));
            }
            chain.ChainPolicy.VerificationTime = now.UtcDateTime;
            return chain.Build(certificate);
        }
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,62}$")]
    private static partial Regex ValidName();
}
