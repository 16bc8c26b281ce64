namespace MirpsExchange.Node.Sdmx;

/// <summary>
/// At most <paramref name="limit"/> SDMX data answers in progress at once per reading party (a State, whatever credentials it
/// uses, or the Secretariat): an answer streamed costs a read of the store, and one built in memory (history, updatedAfter,
/// trimmed series, SDMX-JSON) holds up to Sdmx:MaxObservations rows, so one member asking for many at once could take the node's
/// memory or reads and stop it serving everyone (Sdmx:MaxConcurrentDataRequests; more are refused with 429).
/// </summary>
public sealed class SdmxDataLimit(int limit)
{
    /// <summary>The default of Sdmx:MaxConcurrentDataRequests.</summary>
    public const int DefaultLimit = 2;

    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _inProgress = new(StringComparer.Ordinal);

    /// <summary>An answer for <paramref name="party"/> begun (dispose when it is sent), or null when the party has <c>limit</c> in progress.</summary>
    public IDisposable? TryEnter(string party)
    {
        lock (_lock)
        {
            var count = _inProgress.GetValueOrDefault(party);
            if (count >= limit)
            {
                return null;
            }
            _inProgress[party] = count + 1;
        }
        return new Entry(this, party);
    }

    private void Leave(string party)
    {
        lock (_lock)
        {
            if (--_inProgress[party] == 0)
            {
                _inProgress.Remove(party);
            }
        }
    }

    private sealed class Entry(SdmxDataLimit limit, string party) : IDisposable
    {
        private int _left;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) == 0)
            {
                limit.Leave(party);
            }
        }
    }
}
