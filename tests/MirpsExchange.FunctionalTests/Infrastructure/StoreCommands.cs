using System.Diagnostics;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// Every command EF Core runs on one SQLite store file (set with <see cref="Watch"/>, before the node opens it), with its
/// parameters: what a node reads at start, to be explained (<c>EXPLAIN QUERY PLAN</c>) by a test. It listens to EF Core's
/// diagnostic events (as <see cref="BeforeStoreCommand"/>), so the node runs unchanged.
/// </summary>
public sealed class StoreCommands : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>, IDisposable
{
    private readonly IDisposable _subscription;
    private readonly List<IDisposable> _listeners = [];
    private readonly List<(string Text, (string Name, object? Value)[] Parameters)> _commands = [];
    private string? _path;

    public StoreCommands() => _subscription = DiagnosticListener.AllListeners.Subscribe(this);

    /// <summary>Records the commands run on the store file at <paramref name="path"/> from now on.</summary>
    public void Watch(string path) => Volatile.Write(ref _path, Path.GetFullPath(path));

    /// <summary>The commands recorded so far, in order.</summary>
    public IReadOnlyList<(string Text, (string Name, object? Value)[] Parameters)> Taken()
    {
        lock (_commands)
        {
            return [.. _commands];
        }
    }

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
        if (value.Value is CommandEventData { Command: { Connection.DataSource: { Length: > 0 } source } command }
            && Volatile.Read(ref _path) is { } path && Path.GetFullPath(source) == path)
        {
            var parameters = command.Parameters.Cast<System.Data.Common.DbParameter>().Select(p => (p.ParameterName, (object?)p.Value)).ToArray();
            lock (_commands)
            {
                _commands.Add((command.CommandText, parameters));
            }
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
    }
}
