using System.Security.Cryptography.X509Certificates;

namespace MirpsExchange.Identity.Tokens;

/// <summary>
/// The certificate a tls_client_auth credential registers (RFC 8705 §2.1.2): its subject distinguished
/// name ("CN=pan-client, O=..."), or one subject alternative name written "dns:NAME", "uri:URI" (or the
/// bare URI, "urn:mirps:PAN") or "ip:ADDRESS". Any certificate of the federation CA with that subject (a renewed one included) then
/// authenticates the credential; a certificate with another subject does not.
/// </summary>
public static class CertificateSubject
{
    /// <summary>The registered form, normalised; null with a reason when <paramref name="subject"/> is none of the accepted forms.</summary>
    public static string? Normalize(string subject, out string reason)
    {
        reason = "";
        subject = subject.Trim();
        var colon = subject.IndexOf(':', StringComparison.Ordinal);
        var kind = colon > 0 ? subject[..colon].ToLowerInvariant() : "";
        if (kind is "dns" or "uri" or "ip")
        {
            var value = subject[(colon + 1)..].Trim();
            if (value.Length == 0 || value.Length > 500)
            {
                reason = $"a {kind}: subject alternative name needs a value of at most 500 characters";
                return null;
            }
            if (kind == "ip" && !System.Net.IPAddress.TryParse(value, out _))
            {
                reason = $"'{value}' is not an IP address";
                return null;
            }
            return $"{kind}:{value}";
        }
        if (colon > 0 && !subject.Contains('=', StringComparison.Ordinal) && Uri.TryCreate(subject, UriKind.Absolute, out _))
        {
            // A bare absolute URI ("urn:mirps:PAN") names a URI subject alternative name; a distinguished name always has '='.
            return Normalize("uri:" + subject, out reason);
        }
        try
        {
            var name = new X500DistinguishedName(subject);
            if (name.Name.Length == 0)
            {
                reason = "the subject distinguished name is empty";
                return null;
            }
            return name.Name;
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            reason = $"'{subject}' is neither a distinguished name such as \"CN=pan-client, O=Example\" nor dns:NAME, uri:URI or ip:ADDRESS";
            return null;
        }
    }

    /// <summary>Whether <paramref name="certificate"/> has the registered <paramref name="subject"/> (as <see cref="Normalize"/> wrote it).</summary>
    public static bool Matches(X509Certificate2 certificate, string subject)
    {
        if (subject.StartsWith("dns:", StringComparison.Ordinal) || subject.StartsWith("uri:", StringComparison.Ordinal) || subject.StartsWith("ip:", StringComparison.Ordinal))
        {
            return AlternativeNames(certificate).Contains(subject, StringComparer.OrdinalIgnoreCase);
        }
        return string.Equals(certificate.SubjectName.Name, subject, StringComparison.Ordinal);
    }

    /// <summary>A certificate's DNS, URI and IP subject alternative names, each as "dns:...", "uri:...", "ip:...".</summary>
    public static IEnumerable<string> AlternativeNames(X509Certificate2 certificate)
    {
        var extension = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (extension is null)
        {
            yield break;
        }
        foreach (var dns in extension.EnumerateDnsNames())
        {
            yield return "dns:" + dns;
        }
        foreach (var ip in extension.EnumerateIPAddresses())
        {
            yield return "ip:" + ip;
        }
        foreach (var uri in Mirps.Tls.FederationIdentity.UriNames(certificate))
        {
            yield return "uri:" + uri;
        }
    }
}
