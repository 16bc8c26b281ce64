namespace MirpsExchange.ServiceDefaults;

/// <summary>
/// Files and folders only the current user may read (0600 / 0700 on Unix): secrets (keys, the bootstrap
/// credential, TLS keys) and stores (the identity server's holds secret hashes; a node's holds data its
/// State shares with some readers only). One implementation for the identity server, the nodes and the CLI.
/// On Windows the Unix modes do not apply: files get the folder's access control list.
/// </summary>
public static class OwnerOnlyFile
{
    private const UnixFileMode OwnerFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode Others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>Writes <paramref name="content"/> to <paramref name="path"/>, owner-only, whole or not at all (a temporary file moved into place).</summary>
    /// <param name="flushToDisk">Whether the content reaches the disk before it takes the path's place (survives power loss).</param>
    public static void WriteAllText(string path, string content, bool flushToDisk = false)
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
            using (var file = new FileStream(temporary, options))
            using (var writer = new StreamWriter(file))
            {
                writer.Write(content);
                writer.Flush();
                file.Flush(flushToDisk);
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

    /// <summary>
    /// Refuses, at start-up, a file or folder that other users may read or change (any group or other
    /// permission): the error names it, the configuration key it came from, and the chmod that fixes it.
    /// A path that does not exist passes (whoever creates it makes it owner-only). Nothing to check on Windows.
    /// </summary>
    public static void Require(string path, string what)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        var folder = Directory.Exists(path);
        if (!folder && !File.Exists(path))
        {
            return;
        }
        var mode = File.GetUnixFileMode(path);
        if ((mode & Others) != 0)
        {
            var full = Path.GetFullPath(path);
            throw new InvalidOperationException(
                $"{what} {full}: other users of this machine can read or change it (mode {Octal(mode)}); it must be this service's user's alone: "
                + $"run `chmod {(folder ? "700" : "600")} {full}` and start again.");
        }
    }

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode & 0b111_111_111, 8).PadLeft(3, '0');
}
