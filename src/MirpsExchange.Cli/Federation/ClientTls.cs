using System.Net.Http;
using System.Security.Cryptography.X509Certificates;
using Mirps.Tls;

namespace MirpsExchange.Cli.Federation;

/// <summary>
/// How a CLI client speaks TLS: the CA servers must chain to (--ca) and the client certificate it presents
/// (--client-cert/--client-key; tokens are bound to it, so the identity server and the node must see the
/// same one). Either may be missing: cleartext on loopback, or a server that asks for no certificate.
/// </summary>
public sealed class ClientTls(string? caFile, X509Certificate2? certificate) : IDisposable
{
    public static readonly ClientTls None = new(null, null);

    public string? CaFile => caFile;
    public X509Certificate2? Certificate => certificate;

    /// <summary>The CA and, when both files are given, the client certificate with its key.</summary>
    public static ClientTls Load(FileInfo? ca, FileInfo? certificateFile, FileInfo? keyFile) => new(ca?.FullName,
        certificateFile is null ? null : FederationTrust.LoadClientCertificate(certificateFile.FullName, (keyFile ?? throw new InvalidDataException("--client-cert needs --client-key (or MIRPS_CLIENT_KEY) too.")).FullName));

    /// <summary>The primary handler for an HttpClient or a GrpcChannel.</summary>
    public SocketsHttpHandler CreateHandler() => FederationTrust.CreateHandler(caFile, certificate);

    public void Dispose() => certificate?.Dispose();
}
