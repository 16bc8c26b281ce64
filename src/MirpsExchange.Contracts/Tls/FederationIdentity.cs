using System.Security.Cryptography.X509Certificates;

namespace Mirps.Tls;

/// <summary>
/// Who a federation certificate belongs to: one URI subject alternative name <c>urn:mirps:PARTY</c>, where
/// PARTY is a State's ISO3 code (<c>urn:mirps:PAN</c>), <c>secretariat</c> or <c>admin</c>. Node certificates
/// carry it (a peer proves which State's node it is), and so do client certificates (a token bound to one
/// is worth something only for that party). <c>mirps certs create</c> writes it; a State's own PKI adds the
/// same name to the certificates it issues for the federation.
/// </summary>
public static class FederationIdentity
{
    public const string Prefix = "urn:mirps:";
    public const string Secretariat = "secretariat";
    public const string Admin = "admin";

    /// <summary>The URI naming <paramref name="party"/>: upper-case ISO3 for a State, else "secretariat" or "admin".</summary>
    public static Uri UriOf(string party) => new(Prefix + Normalize(party));

    /// <summary>"PAN", "secretariat" or "admin" as written in certificates and compared everywhere.</summary>
    public static string Normalize(string party) =>
        party.Equals(Secretariat, StringComparison.OrdinalIgnoreCase) ? Secretariat
        : party.Equals(Admin, StringComparison.OrdinalIgnoreCase) ? Admin
        : party.ToUpperInvariant();

    /// <summary>The party a credential (and its tokens) stands for: its State (role "state"), else its role ("secretariat", "admin").</summary>
    public static string PartyOf(string role, string? country) =>
        role == Mirps.Auth.MirpsAuth.StateRole ? Normalize(country ?? "") : Normalize(role);

    /// <summary>
    /// The party <paramref name="certificate"/> names, or null when it names none or more than one (a
    /// certificate for two parties proves neither).
    /// </summary>
    public static string? PartyOf(X509Certificate2? certificate)
    {
        string? party = null;
        foreach (var uri in UriNames(certificate))
        {
            if (uri.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) && uri.Length > Prefix.Length)
            {
                var named = Normalize(uri[Prefix.Length..]);
                if (party is not null && party != named)
                {
                    return null;
                }
                party = named;
            }
        }
        return party;
    }

    /// <summary>The URI subject alternative names of a certificate (.NET itself lists only DNS names and IP addresses).</summary>
    public static IReadOnlyList<string> UriNames(X509Certificate2? certificate)
    {
        if (certificate?.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault() is not { } extension)
        {
            return [];
        }
        var reader = new System.Formats.Asn1.AsnReader(extension.RawData, System.Formats.Asn1.AsnEncodingRules.DER);
        var sequence = reader.ReadSequence();
        var uriTag = new System.Formats.Asn1.Asn1Tag(System.Formats.Asn1.TagClass.ContextSpecific, 6);
        var uris = new List<string>();
        while (sequence.HasData)
        {
            var tag = sequence.PeekTag();
            if (tag.HasSameClassAndValue(uriTag))
            {
                uris.Add(sequence.ReadCharacterString(System.Formats.Asn1.UniversalTagNumber.IA5String, uriTag));
            }
            else
            {
                sequence.ReadEncodedValue();
            }
        }
        return uris;
    }
}
