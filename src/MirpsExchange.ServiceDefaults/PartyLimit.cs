namespace MirpsExchange.ServiceDefaults;

/// <summary>
/// At most <paramref name="limit"/> costly requests in progress at once per party, so that one party asking for many at once
/// cannot take the process's memory or reads and stop it serving everyone. Used for SDMX data answers per reading State or the
/// Secretariat (Sdmx:MaxConcurrentDataRequests: an answer streamed costs a read of the store, one built in memory holds up to
/// Sdmx:MaxObservations rows) and for the web upload page per account (Web:MaxConcurrentUploadsPerAccount: an upload holds
/// one of the process's reading slots and its file's memory while it arrives). More are refused with 429.
/// </summary>
public sealed class PartyLimit(int limit)
{

    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _inProgress = new(StringComparer.Ordinal);

    /// <summary>A request of <paramref name="party"/> begun (dispose when it is done), or null when the party has <c>limit</c> in progress.</summary>
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

    private sealed class Entry(PartyLimit limit, string party) : IDisposable
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
