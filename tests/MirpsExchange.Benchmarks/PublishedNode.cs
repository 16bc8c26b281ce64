using System.Diagnostics;
using System.Runtime.InteropServices;

namespace MirpsExchange.Benchmarks;

/// <summary>
/// The node as a State deploys it: published for this machine's runtime (dotnet publish -r), so precompiled
/// (ReadyToRun, see MirpsExchange.Node.csproj). Where a benchmark counts a node's start-up, it runs this build.
/// </summary>
internal static class PublishedNode
{
    public static async Task<string> PublishAsync(string folder)
    {
        var project = Path.Combine(RepositoryRoot(), "src", "MirpsExchange.Node", "MirpsExchange.Node.csproj");
        var os = OperatingSystem.IsWindows() ? "win" : OperatingSystem.IsMacOS() ? "osx" : "linux";
        var runtime = $"{os}-{RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()}";
        Console.WriteLine($"Publishing the node for {runtime} (ReadyToRun), as a State deploys it...");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "publish", project, "-c", "Release", "-r", runtime, "--self-contained", "false", "-o", folder, "--nologo" })
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not run dotnet publish");
        var (output, error) = (process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync());
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet publish of the node failed ({process.ExitCode}):\n{await output}\n{await error}");
        }
        return folder;
    }

    /// <summary>The folder holding MirpsExchange.sln, above this program's build output.</summary>
    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "MirpsExchange.sln")))
            {
                return folder.FullName;
            }
        }
        throw new InvalidOperationException($"MirpsExchange.sln not found above {AppContext.BaseDirectory}: run the benchmark from the repository");
    }
}
