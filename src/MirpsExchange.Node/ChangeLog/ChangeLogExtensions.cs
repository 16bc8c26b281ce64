using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.ChangeLog;

/// <summary>
/// The origin's log-signing key, when this node has a log of its own (a State's node; the Secretariat's writes none).
/// A rotation (`mirps node rotate-log-key`) leaves the next key waiting beside it: the next commit ends with a
/// KEY_ROTATION head signed with the current key that names the next one (<see cref="PendingRotation"/>), and
/// once that commit is in, the next key signs every later head (<see cref="CompleteRotation"/>). Both happen
/// under the <see cref="Store.WriteGate"/>, which every signer's user holds. How far the node has signed is kept
/// beside the key (<see cref="HighWater"/>), outside the store.
/// </summary>
public sealed partial class OriginSigning(LogSigner? signer, ILogger? logger = null, SignedHighWater? highWater = null, LogSigner? decisions = null) : IDisposable
{
    private LogSigner? _signer = signer;

    /// <summary>
    /// The key that signs this node's lifecycle log: a State's own (its change log's key), or, on the Secretariat's node,
    /// the Secretariat's log-signing key, which signs its decision log (origin "secretariat") and nothing else.
    /// </summary>
    public LogSigner LifecycleSigner => _signer ?? decisions ?? throw new InvalidOperationException("this node signs no lifecycle log");

    /// <summary>How far this node has signed its logs (null: no log of its own, or a signer made without one, in tests).</summary>
    public SignedHighWater? HighWater => highWater;

    public LogSigner Signer => _signer ?? throw new InvalidOperationException("this node has no change log of its own (the Secretariat's node writes no data)");

    public bool HasLog => _signer is not null;

    /// <summary>The key a rotation waits to hand over to (Node:LogSigningKeyFile's .next.pem), or null; looked for at every commit.</summary>
    public LogSigner? PendingRotation()
    {
        if (_signer is null)
        {
            return null;
        }
        try
        {
            return _signer.LoadNext();
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            LogRotationUnusable(Logger, _signer.Origin, e.Message); // the log goes on with the current key
            return null;
        }
    }

    /// <summary>
    /// A KEY_ROTATION head naming <paramref name="next"/> is committed: <paramref name="next"/> signs from now on.
    /// The old key is kept, owner-only, as .retired-KEYID.pem, the next one takes the key file's place, and the
    /// public key file is rewritten. Should moving the files fail, the node completes the move at its next start
    /// (<see cref="ResumeRotationAsync"/>) before it signs anything.
    /// </summary>
    public void CompleteRotation(LogSigner next)
    {
        var old = Signer;
        _signer = next;
        try
        {
            OwnerOnlyFile.WriteAllText(LogSigner.RetiredKeyFile(old.File, old.KeyId), File.ReadAllText(old.File));
            File.Move(LogSigner.NextKeyFile(old.File), old.File, overwrite: true);
            File.Delete(LogSigner.PublicKeyFile(LogSigner.NextKeyFile(old.File)));
            var publicFile = next.WritePublicKeyFile();
            LogRotated(Logger, old.Origin, old.KeyId, next.KeyId, LogSigner.RetiredKeyFile(old.File, old.KeyId), publicFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogRotationFilesNotMoved(Logger, old.Origin, next.KeyId, e.Message);
        }
        old.Dispose();
    }

    /// <summary>
    /// At start: a rotation whose KEY_ROTATION head is in the store already (the node stopped before it moved the
    /// key files) is completed; one still waiting is reported: it happens at the next commit.
    /// </summary>
    public static async Task ResumeRotationAsync(IServiceProvider services, CancellationToken cancellationToken = default)
    {
        var signing = services.GetRequiredService<OriginSigning>();
        using var _ = await services.GetRequiredService<Store.WriteGate>().EnterAsync(cancellationToken);
        if (signing.PendingRotation() is not { } next)
        {
            return;
        }
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Store.NodeDbContext>();
        var origin = signing.Signer.Origin;
        var handedOver = await db.LogHeads.AsNoTracking()
            .Where(h => h.Origin == origin && h.Kind == Mirps.Observation.V1.LogHeadKind.KeyRotation)
            .Select(h => h.NextPublicKey)
            .ToListAsync(cancellationToken);
        if (handedOver.Any(key => key is not null && key.AsSpan().SequenceEqual(next.PublicKey)))
        {
            signing.CompleteRotation(next);
            return;
        }
        LogRotationWaiting(signing.Logger, origin, signing.Signer.KeyId, next.KeyId);
        next.Dispose();
    }

    private ILogger Logger => logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public void Dispose()
    {
        highWater?.Dispose(); // what was signed since the last background write, before the process ends
        _signer?.Dispose();
        decisions?.Dispose();
    }

    [LoggerMessage(EventName = "LogSigningKeyRotated", Level = LogLevel.Warning,
        Message = "{Origin}'s change log hands over from key {OldKeyId} to key {KeyId} (a KEY_ROTATION head signed with the old key, which is kept in {RetiredFile}); replicas accept the new key from that head on. Register it: `mirps credentials register-log-key --country {Origin} --public-key {PublicKeyFile}`, then retire the old one: `mirps credentials retire-log-key {OldKeyId}`")]
    private static partial void LogRotated(ILogger logger, string origin, string oldKeyId, string keyId, string retiredFile, string publicKeyFile);

    [LoggerMessage(EventName = "LogSigningKeyRotationWaiting", Level = LogLevel.Warning,
        Message = "{Origin}'s change log will hand over from key {KeyId} to key {NextKeyId} at its next commit (a rotation is waiting)")]
    private static partial void LogRotationWaiting(ILogger logger, string origin, string keyId, string nextKeyId);

    [LoggerMessage(EventName = "LogSigningKeyRotationUnusable", Level = LogLevel.Error,
        Message = "{Origin}'s change log stays with its current key: the key a rotation waits with cannot be used: {Error}")]
    private static partial void LogRotationUnusable(ILogger logger, string origin, string error);

    [LoggerMessage(EventName = "LogSigningKeyFilesNotMoved", Level = LogLevel.Error,
        Message = "{Origin}'s change log is signed with key {KeyId} now, but its key files were not moved ({Error}); the node moves them at its next start")]
    private static partial void LogRotationFilesNotMoved(ILogger logger, string origin, string keyId, string error);
}

public static class ChangeLogExtensions
{
    /// <summary>
    /// The origin's side of the signed change log: its log-signing key (Node:LogSigningKeyFile, made at the
    /// first start, owner-only), which the submit writer signs every commit's head with.
    /// </summary>
    public static WebApplicationBuilder AddChangeLog(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(services =>
        {
            var options = services.GetRequiredService<IOptions<NodeOptions>>().Value;
            var environment = services.GetRequiredService<IHostEnvironment>();
            var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger<LogSigner>();
            var keyFile = options.LogSigningKeyPath(environment.ContentRootPath);
            var signing = services.GetRequiredService<ILoggerFactory>().CreateLogger<OriginSigning>();
            if (options.Country.Length == 0)
            {
                // The Secretariat writes no data, but signs its decision log (accepted, rejected) with a key of its own, and
                // keeps how far it signed it beside that key, as a State does its lifecycle log (hostile review, finding 1).
                var secretariat = Mirps.Auth.MirpsAuth.Secretariat;
                return new OriginSigning(null, signing, new SignedHighWater(secretariat, SignedHighWater.FileOf(keyFile), signing),
                    LogSigner.LoadOrCreate(secretariat, keyFile, logger));
            }
            return new OriginSigning(LogSigner.LoadOrCreate(options.Country, keyFile, logger), signing,
                new SignedHighWater(options.Country, SignedHighWater.FileOf(keyFile), signing));
        });
        builder.Services.AddSingleton<Store.RestoreDetection>();
        return builder;
    }
}
