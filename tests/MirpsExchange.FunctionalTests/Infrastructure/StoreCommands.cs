using System.Data.Common;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// Every command EF Core runs on one store (a SQLite file or a PostgreSQL database) (set with <see cref="Watch"/>, before the node opens it), with its
/// parameters: what a node reads at start, to be explained (<c>EXPLAIN QUERY PLAN</c>) by a test. It listens to EF Core's
/// diagnostic events (<see cref="StoreCommandObserver"/>), so the node runs unchanged.
/// </summary>
public sealed class StoreCommands : StoreCommandObserver
{
    private readonly List<(string Text, (string Name, object? Value)[] Parameters)> _commands = [];
    private string? _path;

    /// <summary>Records the commands run on the store <paramref name="path"/> names from now on (<see cref="TestNode.StoreName"/>: a SQLite file, or a PostgreSQL database).</summary>
    public void Watch(string path) => Volatile.Write(ref _path, StoreName(path));

    /// <summary>The commands recorded so far, in order.</summary>
    public IReadOnlyList<(string Text, (string Name, object? Value)[] Parameters)> Taken()
    {
        lock (_commands)
        {
            return [.. _commands];
        }
    }

    protected override void Executing(DbCommand command)
    {
        if (Volatile.Read(ref _path) is { } path && IsStore(command.Connection, path))
        {
            var parameters = command.Parameters.Cast<DbParameter>().Select(p => (p.ParameterName, (object?)p.Value)).ToArray();
            lock (_commands)
            {
                _commands.Add((command.CommandText, parameters));
            }
        }
    }
}
