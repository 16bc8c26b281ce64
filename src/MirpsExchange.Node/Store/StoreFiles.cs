using Microsoft.Data.Sqlite;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Store;

/// <summary>
/// The store holds data its origins share with some readers only (embargoed figures, small counts,
/// Secretariat-only indicators), so its folder and files are the node's user's alone. Checked before the
/// node opens anything: a store another user may read stops the start, naming the file; a store the node
/// creates is created owner-only (SQLite gives its -wal and -shm files the database file's mode).
/// </summary>
public static class StoreFiles
{
    /// <summary>Checks (or creates owner-only) the folder and files of the SQLite store <paramref name="connectionString"/> names.</summary>
    public static void PrepareOwnerOnly(string connectionString)
    {
        var store = new SqliteConnectionStringBuilder(connectionString);
        if (store.Mode == SqliteOpenMode.Memory || store.DataSource is "" or ":memory:")
        {
            return;
        }
        var file = Path.GetFullPath(store.DataSource);
        var folder = Path.GetDirectoryName(file)!;
        OwnerOnlyFile.Require(folder, "The store's folder");
        foreach (var path in new[] { file, file + "-wal", file + "-shm", file + "-journal" })
        {
            OwnerOnlyFile.Require(path, "The store file");
        }
        if (!Directory.Exists(folder))
        {
            OwnerOnlyFile.CreateDirectory(folder);
        }
        OwnerOnlyFile.Ensure(file);
    }
}
