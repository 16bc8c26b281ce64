using System.Security.Cryptography;
using Google.Protobuf;
using Mirps.Identity.V1;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// One log-signing key per State and identity server for the test run, registered there as an admin does
/// (`mirps credentials register-log-key`) before the State's node starts, so replicas verify its log from
/// the first head. A test node gets the key as its Node:LogSigningKeyFile.
/// </summary>
public static class TestLogKeys
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static readonly Dictionary<(TestIdentity, string), string> Keys = [];

    /// <summary>Writes <paramref name="country"/>'s key (registered at <paramref name="identity"/>) into <paramref name="folder"/>; returns the file.</summary>
    public static async Task<string> FileAsync(TestIdentity identity, string country, string folder)
    {
        string pem;
        await Gate.WaitAsync();
        try
        {
            if (!Keys.TryGetValue((identity, country), out pem!))
            {
                using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                await identity.Credentials.RegisterLogKeyAsync(new RegisterLogKeyRequest { Country = country, PublicKey = ByteString.CopyFrom(key.ExportSubjectPublicKeyInfo()) });
                pem = key.ExportPkcs8PrivateKeyPem();
                Keys[(identity, country)] = pem;
            }
        }
        finally
        {
            Gate.Release();
        }
        var file = Path.Combine(folder, $"log-signing-key-{country.ToLowerInvariant()}.pem");
        if (!File.Exists(file))
        {
            OwnerOnlyFile.WriteAllText(file, pem);
        }
        return file;
    }
}
