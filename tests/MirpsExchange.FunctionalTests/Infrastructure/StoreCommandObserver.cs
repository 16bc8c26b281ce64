using System.Data.Common;
using System.Diagnostics;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// Sees every command EF Core is about to execute in this process (its <c>CommandExecuting</c> diagnostic event), so a test
/// can watch or interleave a node's store commands while the node runs unchanged. Subclasses say what to do with each.
/// </summary>
public abstract class StoreCommandObserver : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>, IDisposable
{
    private readonly IDisposable _subscription;
    private readonly List<IDisposable> _listeners = [];

    protected StoreCommandObserver() => _subscription = DiagnosticListener.AllListeners.Subscribe(this);

    /// <summary>A command about to be executed (on any store of this process).</summary>
    protected abstract void Executing(DbCommand command);

    /// <summary>
    /// A node's store as the observers name it (<see cref="TestNode.StoreName"/>): its PostgreSQL database's name when the
    /// run's store is PostgreSQL, else its SQLite file's full path.
    /// </summary>
    protected static string StoreName(string store) => TestStores.Postgres ? store : Path.GetFullPath(store);

    /// <summary>Whether <paramref name="connection"/> is the store <paramref name="store"/> (<see cref="StoreName"/>) names: its PostgreSQL database, or its SQLite file.</summary>
    protected static bool IsStore(DbConnection? connection, string store) => connection switch
    {
        Npgsql.NpgsqlConnection postgres => postgres.Database == store,
        { DataSource: { Length: > 0 } source } => Path.GetFullPath(source) == store,
        _ => false,
    };

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
        if (value.Value is CommandEventData { Command: { } command })
        {
            Executing(command);
        }
    }

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
        GC.SuppressFinalize(this);
    }
}
