using System.Data.Common;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// Runs <c>action</c> once, synchronously, just before EF Core executes the first command on the store file
/// <c>databasePath</c> whose text contains <c>marker</c>: an interleaving inside a node's answer (a commit between two of its
/// reads) that cannot be reached from outside the call. It listens to EF Core's diagnostic events, so the node runs unchanged.
/// </summary>
public sealed class BeforeStoreCommand : StoreCommandObserver
{
    private readonly string _databasePath;
    private readonly string _marker;
    private readonly Func<Task> _action;
    private int _fired;

    public BeforeStoreCommand(string databasePath, string marker, Func<Task> action) =>
        (_databasePath, _marker, _action) = (StoreName(databasePath), marker, action);

    /// <summary>Whether the action ran.</summary>
    public bool Fired => Volatile.Read(ref _fired) == 1;

    protected override void Executing(DbCommand command)
    {
        if (command.CommandText.Contains(_marker, StringComparison.Ordinal)
            && IsStore(command.Connection, _databasePath)
            && Interlocked.Exchange(ref _fired, 1) == 0)
        {
            _action().GetAwaiter().GetResult();
        }
    }
}
