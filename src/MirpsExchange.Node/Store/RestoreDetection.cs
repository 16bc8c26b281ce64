using System.Data.Common;
using Microsoft.Extensions.Options;
using Mirps.Auth;
using MirpsExchange.Node.ChangeLog;

namespace MirpsExchange.Node.Store;

/// <summary>
/// Whether a node's store was put back to an earlier state, so that the node must recover its log from its peers before it
/// writes (Sync/OriginRecovery), whatever the restore method: a State's node (its change log and lifecycle log), or the
/// Secretariat's (its decision log, origin "secretariat"). Two signs, either enough:
/// <list type="bullet">
/// <item>the explicit mark <c>mirps restore</c> leaves in the store (<see cref="StoreBackup.RecoveryRequiredAsync"/>);</item>
/// <item>the store's logs end below how far the node has signed them (<see cref="SignedHighWater"/>, kept beside the
/// log-signing key, outside the store): a copy of an old store file, pg_restore with --no-comments, a data-only restore,
/// a disk or volume snapshot.</item>
/// </list>
/// Once the node has recovered, both are cleared together (<see cref="ClearAsync"/>): the mark then follows the store's head.
/// </summary>
public sealed partial class RestoreDetection(IOptions<NodeOptions> options, OriginSigning signing, ILogger<RestoreDetection> logger)
{
    /// <summary>Why the store must recover before the node writes; null when it need not.</summary>
    public async Task<string?> WhyRestoredAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var reasons = new List<string>();
        if (await StoreBackup.RecoveryRequiredAsync(connection, cancellationToken))
        {
            reasons.Add("the store was restored from a backup (mirps restore)");
        }
        if (signing.HighWater is { } highWater)
        {
            var country = Origin;
            var (changes, entries) = await HeadsAsync(connection, country, cancellationToken);
            (long Changes, long Entries)? signed;
            try
            {
                signed = highWater.Read();
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
            {
                reasons.Add($"the log's high-water mark cannot be read ({e.Message}); it is written anew once the node has recovered");
                signed = (long.MaxValue, long.MaxValue);
            }
            if (signed is not { } mark)
            {
                highWater.Set(changes, entries); // the first start with a mark: from here on a store put back is found
            }
            else if (mark.Changes > changes || mark.Entries > entries)
            {
                if (mark.Changes != long.MaxValue)
                {
                    reasons.Add((country == MirpsAuth.Secretariat
                        ? $"its store holds the Secretariat's decision log up to entry {entries}, but this node signed it up to entry {mark.Entries} ({highWater.File})"
                        : $"its store holds {country}'s change log up to change {changes} and its lifecycle log up to entry {entries}, but this node signed them up to " +
                            $"change {mark.Changes} and entry {mark.Entries} ({highWater.File})")
                        + ": the store was put back behind the node's back (an old backup or snapshot restored)");
                }
            }
            else if (mark.Changes < changes || mark.Entries < entries)
            {
                highWater.Set(changes, entries); // a commit the mark had not caught up with before the node stopped
            }
        }
        return reasons.Count == 0 ? null : string.Join("; ", reasons);
    }

    /// <summary>
    /// How far this node has signed its change log and its lifecycle log (the high-water mark, <see cref="SignedHighWater"/>),
    /// or null when it keeps no mark or the mark cannot be read. A restored store recovers at least this far: those sequences
    /// are taken (a peer may hold them even when the quorum does not), so writes stay refused below either unless the
    /// operator accepts the loss.
    /// </summary>
    public (long Changes, long Entries)? Signed()
    {
        try
        {
            return signing.HighWater?.Read();
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The node has recovered (the federation holds no more of its log than the store): the explicit mark is cleared and the
    /// high-water mark set to the store's heads (lowered, with a warning, only when the operator accepted the loss of changes the node had signed: Node:AcceptLocalHead).
    /// </summary>
    public async Task ClearAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        await StoreBackup.ClearRecoveryRequiredAsync(connection, cancellationToken);
        if (signing.HighWater is not { } highWater)
        {
            return;
        }
        var country = Origin;
        var (changes, entries) = await HeadsAsync(connection, country, cancellationToken);
        try
        {
            if (highWater.Read() is { } mark && (mark.Changes > changes || mark.Entries > entries))
            {
                LogLowered(logger, country, mark.Changes, mark.Entries, changes, entries);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            // written anew below
        }
        highWater.Set(changes, entries);
    }

    /// <summary>The origin whose logs this node signs: its State, or on the Secretariat's node its decision log ("secretariat").</summary>
    private string Origin => options.Value.Country is { Length: > 0 } country ? country : MirpsAuth.Secretariat;

    /// <summary>The store's own change log's last change and lifecycle log's last entry (0 when empty).</summary>
    private static async Task<(long Changes, long Entries)> HeadsAsync(DbConnection connection, string country, CancellationToken cancellationToken)
    {
        var (changes, _) = await OriginLog.LastChangeAsync(connection, null, country, cancellationToken);
        await using var command = PositionalCommand.Create(connection, null,
            $"SELECT COALESCE(MAX(entry_sequence), 0) FROM {LifecycleEntryConfiguration.Table} WHERE origin = @o", "@o");
        command.Parameters[0].Value = country;
        var entries = Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
        return (changes, entries);
    }

    [LoggerMessage(EventName = "SignedHighWaterLowered", Level = LogLevel.Warning,
        Message = "{Origin}'s node had signed its change log up to change {SignedChanges} and its lifecycle log up to entry {SignedEntries}, but its peers hold them only up to change {Changes} and entry {Entries}: what lies beyond was lost with the store, and those sequence numbers are taken again from here")]
    private static partial void LogLowered(ILogger logger, string origin, long signedChanges, long signedEntries, long changes, long entries);
}
