namespace MirpsExchange.Identity;

/// <summary>
/// Files and folders only the current user may read (0600 / 0700 on Unix): secrets (keys, the bootstrap
/// credential) and the store, whose tables hold secret hashes and the public keys clients sign with.
/// </summary>
public static class OwnerOnlyFile
{
    private const UnixFileMode OwnerFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public static void WriteAllText(string path, string content)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerFile;
        }
        // Written under a temporary name and moved into place, so no reader ever sees half a key.
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var writer = new StreamWriter(new FileStream(temporary, options)))
            {
                writer.Write(content);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Creates the folder owner-only, or narrows an existing one (made by an older version or by hand) to owner-only.</summary>
    public static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }
        Directory.CreateDirectory(path, OwnerFolder);
        File.SetUnixFileMode(path, OwnerFolder);
    }

    /// <summary>
    /// Makes sure a file exists and is owner-only before another component (SQLite) opens it: SQLite
    /// creates a missing database with the process's umask (usually world-readable) and gives its -wal
    /// and -shm files the database file's mode.
    /// </summary>
    public static void Ensure(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        if (!File.Exists(path))
        {
            new FileStream(path, new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.Write, UnixCreateMode = OwnerFile }).Dispose();
        }
        // Companion files left by an older version (created with the database's old mode) are narrowed too.
        foreach (var file in new[] { path, path + "-wal", path + "-shm", path + "-journal" }.Where(File.Exists))
        {
            File.SetUnixFileMode(file, OwnerFile);
        }
    }
}
