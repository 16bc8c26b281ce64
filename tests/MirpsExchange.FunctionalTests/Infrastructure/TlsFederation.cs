using System.CommandLine;
using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Mirps.Auth;
using Mirps.Identity.V1;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using Mirps.Tls;
using MirpsExchange.Cli;
using MirpsExchange.Cli.Federation;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The certificates of `mirps certs create` and one TLS federation for the class: an identity server and a
/// BLZ node, both serving HTTPS with certificates of that CA and trusting it; plus a second, unrelated CA.
/// </summary>
public sealed class TlsFederation : IAsyncLifetime
{
    public string Folder { get; } = TempFolder.Create();
    public string Certificates => Path.Combine(Folder, "certs");
    public string OtherCertificates => Path.Combine(Folder, "other");
    public string Ca => DevelopmentCertificates.CertificateFile(Certificates, DevelopmentCertificates.CaName);
    public string OtherCa => DevelopmentCertificates.CertificateFile(OtherCertificates, DevelopmentCertificates.CaName);
    public TestIdentity Identity { get; private set; } = null!;
    public TestNode Node { get; private set; } = null!;

    /// <summary>Serve with <paramref name="name"/>'s certificate from <paramref name="folder"/> and trust <paramref name="ca"/>.</summary>
    public static string[] TlsArgs(string folder, string name, string ca) =>
    [
        $"--Tls:CertificateFile={DevelopmentCertificates.CertificateFile(folder, name)}",
        $"--Tls:KeyFile={DevelopmentCertificates.KeyFile(folder, name)}",
        $"--Tls:CaFile={ca}",
    ];

    public async Task InitializeAsync()
    {
        DevelopmentCertificates.Ensure(Certificates, ["identity", "blz", "pan", "cri", "slv", "admin-client", "blz-client", "pan-client", "cri-client"]);
        DevelopmentCertificates.Ensure(OtherCertificates, ["identity", "blz"]);
        Identity = await TestIdentity.StartAsync(TlsArgs(Certificates, "identity", Ca));
        Node = await TestNode.StartAsync("BLZ", Identity, [.. TlsArgs(Certificates, "blz", Ca), Samples.ShareWithAll]);
    }

    public async Task DisposeAsync()
    {
        await Node.DisposeAsync();
        await Identity.DisposeAsync();
        TempFolder.Delete(Folder);
    }
}
