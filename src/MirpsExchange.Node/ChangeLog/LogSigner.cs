using System.Security.Cryptography;
using Google.Protobuf;
using Mirps.Log;
using Mirps.Observation.V1;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.ChangeLog;

/// <summary>
/// The origin's log-signing key (ECDSA P-256): made at the node's first start in an owner-only PEM file
/// (Node:LogSigningKeyFile), with its public half beside it (.pub.pem) for the admin to register at the
/// identity server (`mirps credentials register-log-key`). Signs the log head at every commit.
/// </summary>
public sealed partial class LogSigner : IDisposable
{
    private readonly ECDsa _key;

    public string Origin { get; }
    public string KeyId { get; }
    public byte[] PublicKey { get; }
    public string File { get; }

    private LogSigner(string origin, string file, ECDsa key)
    {
        (Origin, File, _key) = (origin, file, key);
        PublicKey = key.ExportSubjectPublicKeyInfo();
        KeyId = Mirps.Auth.LogKeys.KeyId(PublicKey);
    }

    /// <summary>The public key file written beside the private one.</summary>
    public static string PublicKeyFile(string file) => Path.ChangeExtension(file, null) + ".pub.pem";

    /// <summary>Loads the key at <paramref name="file"/>, or makes it (owner-only) when there is none yet.</summary>
    public static LogSigner LoadOrCreate(string origin, string file, ILogger logger)
    {
        OwnerOnlyFile.Require(file, "Node:LogSigningKeyFile");
        var key = ECDsa.Create();
        if (System.IO.File.Exists(file))
        {
            key.ImportFromPem(System.IO.File.ReadAllText(file));
            if (key.KeySize != 256)
            {
                throw new InvalidOperationException($"Node:LogSigningKeyFile {file}: not an ECDSA P-256 key");
            }
        }
        else
        {
            key.GenerateKey(ECCurve.NamedCurves.nistP256);
            var folder = Path.GetDirectoryName(Path.GetFullPath(file))!;
            if (!Directory.Exists(folder))
            {
                OwnerOnlyFile.CreateDirectory(folder);
            }
            OwnerOnlyFile.WriteAllText(file, key.ExportPkcs8PrivateKeyPem());
        }
        var signer = new LogSigner(origin, file, key);
        var publicFile = PublicKeyFile(file);
        if (!System.IO.File.Exists(publicFile) || System.IO.File.ReadAllText(publicFile) != key.ExportSubjectPublicKeyInfoPem())
        {
            System.IO.File.WriteAllText(publicFile, key.ExportSubjectPublicKeyInfoPem()); // public: no secret in it
        }
        LogKey(logger, origin, signer.KeyId, publicFile);
        return signer;
    }

    /// <summary>A head of this origin's log at <paramref name="sequence"/>, whose change hash is <paramref name="hash"/>, signed now.</summary>
    public LogHead Sign(long sequence, ReadOnlySpan<byte> hash, long signedMicros, LogHeadKind kind = LogHeadKind.Commit, byte[]? nextPublicKey = null)
    {
        var head = new LogHead
        {
            Origin = Origin,
            Sequence = sequence,
            Hash = ByteString.CopyFrom(hash),
            SignedTime = Store.StoreTime.ToTimestamp(signedMicros),
            Kind = kind,
            NextPublicKey = nextPublicKey is null ? ByteString.Empty : ByteString.CopyFrom(nextPublicKey),
        };
        LogHeadSignature.Sign(head, _key, KeyId);
        return head;
    }

    public void Dispose() => _key.Dispose();

    [LoggerMessage(EventName = "LogSigningKey", Level = LogLevel.Information,
        Message = "{Origin}'s change log is signed with key {KeyId}; replicas verify it once the identity server publishes it: `mirps credentials register-log-key --country {Origin} --public-key {PublicKeyFile}`")]
    private static partial void LogKey(ILogger logger, string origin, string keyId, string publicKeyFile);
}
