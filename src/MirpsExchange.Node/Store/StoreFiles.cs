using Microsoft.Data.Sqlite;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Store;

/// <summary>
/// The store holds data its origins share with some readers only (embargoed figures, small counts,
/// Secretariat-only indicators), so its folder and files are the node's user's alone. Checked before the
/// node opens anything: a store another user may read stops the start, naming the file. The node creates
/// the folder owner-only, and narrows the files SQLite creates in it (with the process's umask) as soon as
/// the migrations have made them; SQLite then gives every later -wal and -shm file the database's mode.
/// </summary>
public static class StoreFiles
{
    /// <summary>Refuses a store file or folder others may read; creates a missing folder owner-only.</summary>
    public static void PrepareOwnerOnly(string connectionString)
    {
        if (FileOf(connectionString) is not { } file)
        {
            return;
        }
        var folder = Path.GetDirectoryName(file)!;
        OwnerOnlyFile.Require(folder, "The store's folder");
        foreach (var path in Companions(file))
        {
            OwnerOnlyFile.Require(path, "The store file");
        }
        if (!Directory.Exists(folder))
        {
            OwnerOnlyFile.CreateDirectory(folder);
        }
    }

    /// <summary>
    /// Narrows the files of a store SQLite has just created to owner-only (inside an owner-only folder, no
    /// other user could reach them meanwhile). The file cannot be made beforehand: an empty file passes
    /// for an existing database, which EF Core opens read-only to look at, and the WAL pragma fails there.
    /// </summary>
    public static void NarrowCreated(string connectionString)
    {
        if (FileOf(connectionString) is { } file)
        {
            OwnerOnlyFile.Ensure(file);
        }
    }

    private static string? FileOf(string connectionString)
    {
        var store = new SqliteConnectionStringBuilder(connectionString);
        return store.Mode == SqliteOpenMode.Memory || store.DataSource is "" or ":memory:" ? null : Path.GetFullPath(store.DataSource);
    }

    private static string[] Companions(string file) => [file, file + "-wal", file + "-shm", file + "-journal"];
}
