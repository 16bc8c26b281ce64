namespace MirpsExchange.Identity;

/// <summary>Writes secrets (keys, the bootstrap credential) to files only the current user may read (0600).</summary>
public static class OwnerOnlyFile
{
    public static void WriteAllText(string path, string content)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        // Written under a temporary name and moved into place, so no reader ever sees half a key.
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        using (var writer = new StreamWriter(new FileStream(temporary, options)))
        {
            writer.Write(content);
        }
        File.Move(temporary, path, overwrite: true);
    }
}
