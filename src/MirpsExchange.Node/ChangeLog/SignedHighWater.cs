using System.Globalization;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.ChangeLog;

/// <summary>
/// How far this node has signed its State's logs, kept outside the store: the last change of its change log and the last
/// entry of its lifecycle log, in an owner-only file beside the log-signing key (<see cref="FileOf"/>,
/// log-signing-key-pan.high-water). The Secretariat's node keeps one for its decision log ("secretariat changes=0 entries=N",
/// log-signing-key-secretariat.high-water). A store whose logs end below it was put back behind the node's back (an old backup
/// restored by any means: `mirps restore`, pg_restore with or without comments, a data-only restore, a file or disk
/// snapshot copied over), and the node recovers from its peers before it writes again (<see cref="Store.RestoreDetection"/>).
/// The mark follows each commit in the background (a submit waits for no second write to disk); the node writes it at
/// its stop, so only a commit in the last moments before a crash can be missing from it (it is then lower, never higher).
/// </summary>
public sealed partial class SignedHighWater(string origin, string file, ILogger logger) : IDisposable
{
    private readonly Lock _values = new();
    private readonly Lock _writing = new();
    private long _changes, _entries;
    private bool _dirty, _scheduled;

    /// <summary>The mark's file beside the log-signing key <paramref name="keyFile"/>.</summary>
    public static string FileOf(string keyFile) => Path.ChangeExtension(keyFile, null) + ".high-water";

    public string File => file;

    /// <summary>
    /// What the file says: the last change and lifecycle entry signed; null when there is no file yet. A file written before
    /// the mark kept the lifecycle log ("PAN changes=N") reads as no entry signed; the next mark written names both.
    /// </summary>
    /// <exception cref="InvalidOperationException">The file is not a mark of this origin's.</exception>
    public (long Changes, long Entries)? Read()
    {
        if (!System.IO.File.Exists(file))
        {
            return null;
        }
        OwnerOnlyFile.Require(file, "the log's high-water mark");
        var parts = System.IO.File.ReadAllText(file).Split([' ', '\n', '\r'], StringSplitOptions.RemoveEmptyEntries);
        if (parts is [var who, var changes, .. var rest] && who == origin && rest.Length <= 1 && Number(changes, "changes=") is { } c
            && (rest is [] ? 0 : Number(rest[0], "entries=")) is { } e)
        {
            return (c, e);
        }
        throw new InvalidOperationException($"{file} is not {origin}'s log's high-water mark (\"{origin} changes=N entries=N\")");
    }

    private static long? Number(string part, string name) =>
        part.StartsWith(name, StringComparison.Ordinal) && long.TryParse(part[name.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    /// <summary>Sets the mark now (the node's start: a first mark, or the store's head once the federation has confirmed it).</summary>
    public void Set(long changes, long entries)
    {
        lock (_writing)
        {
            lock (_values)
            {
                (_changes, _entries, _dirty) = (changes, entries, false);
            }
            Write(changes, entries);
        }
    }

    /// <summary>A commit signed the change log up to <paramref name="changes"/>: the mark follows in the background.</summary>
    public void SignedChanges(long changes) => Raise(changes, 0);

    /// <summary>A commit signed the lifecycle log up to <paramref name="entries"/>: the mark follows in the background.</summary>
    public void SignedEntries(long entries) => Raise(0, entries);

    private void Raise(long changes, long entries)
    {
        lock (_values)
        {
            if (changes <= _changes && entries <= _entries)
            {
                return;
            }
            (_changes, _entries, _dirty) = (Math.Max(_changes, changes), Math.Max(_entries, entries), true);
            if (_scheduled)
            {
                return;
            }
            _scheduled = true;
        }
        ThreadPool.UnsafeQueueUserWorkItem(static self => self.Flush(), this, preferLocal: false);
    }

    /// <summary>Writes what was signed and is not in the file yet (at the node's stop, and after commits).</summary>
    public void Flush()
    {
        lock (_writing)
        {
            long changes, entries;
            lock (_values)
            {
                _scheduled = false;
                if (!_dirty)
                {
                    return;
                }
                (changes, entries, _dirty) = (_changes, _entries, false);
            }
            try
            {
                Write(changes, entries);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LogNotWritten(logger, origin, file, e.Message); // the mark stays lower: a revert in that window goes unnoticed, no write is refused
            }
        }
    }

    private void Write(long changes, long entries) =>
        OwnerOnlyFile.WriteAllText(file, string.Create(CultureInfo.InvariantCulture, $"{origin} changes={changes} entries={entries}\n"), flushToDisk: true);

    public void Dispose() => Flush();

    [LoggerMessage(EventName = "SignedHighWaterNotWritten", Level = LogLevel.Error,
        Message = "{Origin}'s log's high-water mark {File} could not be written ({Error}); a store put back behind the node's back may go unnoticed until it is")]
    private static partial void LogNotWritten(ILogger logger, string origin, string file, string error);
}
