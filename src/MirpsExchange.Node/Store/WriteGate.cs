namespace MirpsExchange.Node.Store;

/// <summary>
/// One writer at a time per node: sequence numbers and recorded times are assigned inside the
/// transaction, and SQLite has a single writer anyway.
/// </summary>
public sealed class WriteGate
{
    private readonly SemaphoreSlim _semaphore = new(1, 1);
    private long _entries;

    /// <summary>
    /// How many times the gate was entered: its holder's own number while it holds it. A holder that finds the number
    /// its predecessor had, plus one, knows nobody else wrote in between (<see cref="Rules.WrittenRuleTables"/>).
    /// </summary>
    public long Entries => Interlocked.Read(ref _entries);

    public async Task<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        await _semaphore.WaitAsync(cancellationToken);
        Interlocked.Increment(ref _entries);
        return new Release(_semaphore);
    }

    private sealed class Release(SemaphoreSlim semaphore) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                semaphore.Release();
            }
        }
    }
}
