namespace MirpsExchange.Node.Store;

/// <summary>
/// Wakes followers of the change feed when a write commits. Take <see cref="Next"/> before reading the
/// log: a commit after the read completes it, so no change is missed between the read and the wait.
/// </summary>
public sealed class ChangeNotifier
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes at the next commit after it was taken.</summary>
    public Task Next => Volatile.Read(ref _next).Task;

    /// <summary>Called after a commit that wrote changes.</summary>
    public void Committed() => Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
}
