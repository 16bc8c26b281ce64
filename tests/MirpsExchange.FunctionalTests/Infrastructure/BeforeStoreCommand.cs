using System.Diagnostics;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// Runs <c>action</c> once, synchronously, just before EF Core executes the first command on the store file
/// <c>databasePath</c> whose text contains <c>marker</c>: an interleaving inside a node's answer (a commit between two of its
/// reads) that cannot be reached from outside the call. It listens to EF Core's diagnostic events, so the node runs unchanged.
/// </summary>
public sealed class BeforeStoreCommand : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>, IDisposable
{
    private readonly string _databasePath;
    private readonly string _marker;
    private readonly Func<Task> _action;
    private readonly IDisposable _subscription;
    private readonly List<IDisposable> _listeners = [];
    private int _fired;

    public BeforeStoreCommand(string databasePath, string marker, Func<Task> action)
    {
        (_databasePath, _marker, _action) = (TestStores.Postgres ? databasePath : Path.GetFullPath(databasePath), marker, action);
        _subscription = DiagnosticListener.AllListeners.Subscribe(this);
    }

    /// <summary>Whether the action ran.</summary>
    public bool Fired => Volatile.Read(ref _fired) == 1;

    void IObserver<DiagnosticListener>.OnNext(DiagnosticListener listener)
    {
        if (listener.Name == Microsoft.EntityFrameworkCore.DbLoggerCategory.Name)
        {
            lock (_listeners)
            {
                _listeners.Add(listener.Subscribe(this, name => name == RelationalEventId.CommandExecuting.Name));
            }
        }
    }

    void IObserver<KeyValuePair<string, object?>>.OnNext(KeyValuePair<string, object?> value)
    {
        if (value.Value is CommandEventData { Command: { } command }
            && command.CommandText.Contains(_marker, StringComparison.Ordinal)
            && IsTheStore(command.Connection)
            && Interlocked.Exchange(ref _fired, 1) == 0)
        {
            _action().GetAwaiter().GetResult();
        }
    }

    /// <summary>Whether <paramref name="connection"/> is the node's store: its SQLite file, or its PostgreSQL database (<see cref="TestNode.StoreName"/>).</summary>
    private bool IsTheStore(System.Data.Common.DbConnection? connection) => connection switch
    {
        Npgsql.NpgsqlConnection postgres => postgres.Database == _databasePath,
        { DataSource: { Length: > 0 } source } => Path.GetFullPath(source) == _databasePath,
        _ => false,
    };

    void IObserver<DiagnosticListener>.OnCompleted()
    {
    }

    void IObserver<DiagnosticListener>.OnError(Exception error)
    {
    }

    void IObserver<KeyValuePair<string, object?>>.OnCompleted()
    {
    }

    void IObserver<KeyValuePair<string, object?>>.OnError(Exception error)
    {
    }

    public void Dispose()
    {
        _subscription.Dispose();
        lock (_listeners)
        {
            _listeners.ForEach(l => l.Dispose());
        }
    }
}
