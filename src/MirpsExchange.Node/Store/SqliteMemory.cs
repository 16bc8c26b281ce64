using System.Diagnostics.Metrics;

namespace MirpsExchange.Node.Store;

/// <summary>
/// SQLite's own memory in this process, as metrics (SQLite stores only): what its page caches, statements and sorts hold
/// now (<c>sqlite3_memory_used</c>) and at most since the start (<c>sqlite3_memory_highwater</c>). Beside the runtime's
/// GC heap and working set they tell where a node's resident memory goes (docs/performance.md, "Memory").
/// </summary>
internal sealed class SqliteMemory : IHostedService
{
    public SqliteMemory(IMeterFactory meters)
    {
        var meter = meters.Create(Extensions.NodeExtensions.MeterName);
        meter.CreateObservableGauge("mirps.store.sqlite.memory.used", () => SQLitePCL.raw.sqlite3_memory_used(), "By",
            "Memory SQLite holds in this process now: page caches, prepared statements, sorts.");
        meter.CreateObservableGauge("mirps.store.sqlite.memory.highwater", () => SQLitePCL.raw.sqlite3_memory_highwater(0), "By",
            "The most memory SQLite held at once in this process since it started.");
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
