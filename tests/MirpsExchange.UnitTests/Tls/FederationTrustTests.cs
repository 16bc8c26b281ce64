using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Mirps.Tls;

namespace MirpsExchange.UnitTests.Tls;

/// <summary>
/// Only the federation CA names parties: a certificate it issued itself is accepted, one issued by an
/// intermediate CA under it (a State's own CA, which could name itself the Secretariat) is not.
/// </summary>
public class FederationTrustTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    private static X509Certificate2 Ca(string name, X509Certificate2? issuer = null, ECDsa? issuerKey = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        if (issuer is null)
        {
            return request.CreateSelfSigned(Now.AddDays(-1), Now.AddDays(30));
        }
        using var signed = request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey!), Now.AddDays(-1), Now.AddDays(29), [1, 2, 3, 4]);
        return signed.CopyWithPrivateKey(key);
    }

    private static X509Certificate2 SecretariatClient(X509Certificate2 issuer)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=secretariat-client", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(FederationTrust.ClientAuthentication)], false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddUri(new Uri("urn:mirps:secretariat"));
        request.CertificateExtensions.Add(names.Build());
        using var issuerKey = issuer.GetECDsaPrivateKey()!;
        return request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey), Now.AddDays(-1), Now.AddDays(20), [5, 6, 7, 8]);
    }

    [Fact]
    public void A_certificate_the_federation_CA_issued_itself_is_accepted_one_from_an_intermediate_CA_under_it_is_not()
    {
        using var root = Ca("MIRPS federation CA");
        using var rootKey = root.GetECDsaPrivateKey()!;
        using var intermediate = Ca("A State's own CA", root, rootKey);
        using var direct = SecretariatClient(root);
        using var minted = SecretariatClient(intermediate);
        var policy = FederationTrust.ClientChainPolicy(root);
        // The intermediate is at hand (as when a client sends it in the handshake), so the chain does build to the root.
        policy.ExtraStore.Add(intermediate);
        using (var chain = new X509Chain { ChainPolicy = policy.Clone() })
        {
            Assert.True(chain.Build(minted));
            Assert.Equal(3, chain.ChainElements.Count);
        }

        Assert.True(FederationTrust.IssuedDirectlyByCa(direct, policy.Clone()));
        Assert.False(FederationTrust.IssuedDirectlyByCa(minted, policy.Clone()));
        Assert.Equal("secretariat", FederationIdentity.PartyOf(minted)); // it does name the Secretariat: only its issuer gives it away
    }
}
