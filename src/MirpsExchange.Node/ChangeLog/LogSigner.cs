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
/// A rotation (`mirps node rotate-log-key`) leaves the next key beside it (.next.pem) until the node's next
/// commit hands over to it (<see cref="OriginSigning"/>).
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

    /// <summary>The next key, made by a rotation, waiting beside the key file for the node's next commit.</summary>
    public static string NextKeyFile(string file) => Path.ChangeExtension(file, null) + ".next.pem";

    /// <summary>Where a key handed over from is kept (owner-only) after the rotation.</summary>
    public static string RetiredKeyFile(string file, string keyId) => Path.ChangeExtension(file, null) + $".retired-{keyId}.pem";

    /// <summary>
    /// Starts a rotation of the key at <paramref name="file"/>: makes the next key (owner-only) beside it, with its
    /// public half, for the node to hand over to at its next commit. Refused when there is no key yet, or a rotation waits already.
    /// </summary>
    public static (string CurrentKeyId, string NextKeyId, string NextFile, string NextPublicKeyFile) PrepareRotation(string file)
    {
        file = Path.GetFullPath(file);
        if (!System.IO.File.Exists(file))
        {
            throw new InvalidOperationException($"no log-signing key at {file} (the node makes it at its first start; see Node:LogSigningKeyFile)");
        }
        using var current = Load(file, "Node:LogSigningKeyFile");
        var currentId = Mirps.Auth.LogKeys.KeyId(current.ExportSubjectPublicKeyInfo());
        var nextFile = NextKeyFile(file);
        if (System.IO.File.Exists(nextFile))
        {
            using var waiting = Load(nextFile, "the next log-signing key");
            throw new InvalidOperationException($"a rotation from key {currentId} to key {Mirps.Auth.LogKeys.KeyId(waiting.ExportSubjectPublicKeyInfo())} ({nextFile}) is waiting already: the node makes it at its next commit");
        }
        using var next = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        OwnerOnlyFile.WriteAllText(nextFile, next.ExportPkcs8PrivateKeyPem());
        var publicFile = PublicKeyFile(nextFile);
        System.IO.File.WriteAllText(publicFile, next.ExportSubjectPublicKeyInfoPem()); // public: no secret in it
        return (currentId, Mirps.Auth.LogKeys.KeyId(next.ExportSubjectPublicKeyInfo()), nextFile, publicFile);
    }

    /// <summary>The next key waiting at <see cref="NextKeyFile"/> (a rotation), or null when none waits.</summary>
    public LogSigner? LoadNext()
    {
        var nextFile = NextKeyFile(File);
        return System.IO.File.Exists(nextFile) ? new LogSigner(Origin, File, Load(nextFile, "the next log-signing key")) : null;
    }

    /// <summary>The ECDSA P-256 key in the owner-only PEM file <paramref name="file"/>; <paramref name="what"/> names it in errors.</summary>
    internal static ECDsa Load(string file, string what)
    {
        OwnerOnlyFile.Require(file, what);
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(System.IO.File.ReadAllText(file));
        }
        catch (ArgumentException e)
        {
            key.Dispose();
            throw new InvalidOperationException($"{what} {file}: no PEM key in it ({e.Message})", e);
        }
        if (key.KeySize != 256)
        {
            key.Dispose();
            throw new InvalidOperationException($"{what} {file}: not an ECDSA P-256 key");
        }
        return key;
    }

    /// <summary>Writes the public key file (.pub.pem) beside <see cref="File"/> for this key, unless it says so already.</summary>
    internal string WritePublicKeyFile()
    {
        var publicFile = PublicKeyFile(File);
        var pem = PemEncoding.WriteString("PUBLIC KEY", PublicKey);
        if (!System.IO.File.Exists(publicFile) || System.IO.File.ReadAllText(publicFile) != pem)
        {
            System.IO.File.WriteAllText(publicFile, pem); // public: no secret in it
        }
        return publicFile;
    }

    /// <summary>Loads the key at <paramref name="file"/>, or makes it (owner-only) when there is none yet.</summary>
    public static LogSigner LoadOrCreate(string origin, string file, ILogger logger)
    {
        OwnerOnlyFile.Require(file, "Node:LogSigningKeyFile");
        ECDsa key;
        if (System.IO.File.Exists(file))
        {
            key = Load(file, "Node:LogSigningKeyFile");
        }
        else
        {
            key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var folder = Path.GetDirectoryName(Path.GetFullPath(file))!;
            if (!Directory.Exists(folder))
            {
                OwnerOnlyFile.CreateDirectory(folder);
            }
            OwnerOnlyFile.WriteAllText(file, key.ExportPkcs8PrivateKeyPem());
        }
        var signer = new LogSigner(origin, file, key);
        var publicFile = signer.WritePublicKeyFile();
        LogKey(logger, origin, signer.KeyId, publicFile);
        return signer;
    }

    /// <summary>A head of this origin's log at <paramref name="sequence"/>, whose change hash is <paramref name="hash"/>, signed now.</summary>
    /// <param name="suppressionMethod">The complementary-suppression method the head declares in force (Sharing/SuppressionMethods.ToSign); 0: method 3.</param>
    public LogHead Sign(long sequence, ReadOnlySpan<byte> hash, long signedMicros, LogHeadKind kind = LogHeadKind.Commit, byte[]? nextPublicKey = null, uint suppressionMethod = 0)
    {
        var head = new LogHead
        {
            Origin = Origin,
            Sequence = sequence,
            Hash = ByteString.CopyFrom(hash),
            SignedTime = Store.StoreTime.ToTimestamp(signedMicros),
            Kind = kind,
            NextPublicKey = nextPublicKey is null ? ByteString.Empty : ByteString.CopyFrom(nextPublicKey),
            SuppressionMethod = (uint)Mirps.Log.SuppressionMethod.Encoded(suppressionMethod),
        };
        LogHeadSignature.Sign(head, _key, KeyId);
        return head;
    }

    /// <summary>Signs a lifecycle entry (an approval) of this origin with the key that signs its heads.</summary>
    public void Sign(LifecycleEntry entry) => LifecycleEntrySignature.Sign(entry, _key, KeyId);

    public void Dispose() => _key.Dispose();

    [LoggerMessage(EventName = "LogSigningKey", Level = LogLevel.Information,
        Message = "{Origin}'s change log is signed with key {KeyId}; replicas verify it once the identity server publishes it: `mirps credentials register-log-key --country {Origin} --public-key {PublicKeyFile}`")]
    private static partial void LogKey(ILogger logger, string origin, string keyId, string publicKeyFile);
}
