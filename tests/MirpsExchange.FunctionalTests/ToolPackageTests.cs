using System.Diagnostics;
using MirpsExchange.FunctionalTests.Infrastructure;

namespace MirpsExchange.FunctionalTests;

/// <summary>`mirps` as a newcomer gets it (README, "The mirps command"): the CLI packed as a .NET tool and installed from that pack.</summary>
public class ToolPackageTests
{
    [Fact]
    public async Task The_CLI_packs_as_a_dotnet_tool_that_installs_from_the_local_pack_and_runs_as_mirps()
    {
        var folder = TempFolder.Create();
        try
        {
            var packages = Path.Combine(folder, "nupkg");
            var tools = Path.Combine(folder, "tools");
            // The CLI as this test run built it (bin/<Configuration>/net10.0), packed without building again.
            var configuration = Path.GetFileName(Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)))!;
            await DotnetAsync("pack", Path.Combine(RepositoryRoot(), "src", "MirpsExchange.Cli"), "--no-build", "-c", configuration, "-o", packages, "-nodeReuse:false");
            // Only the local pack as source: nothing named mirps can come from anywhere else.
            await DotnetAsync("tool", "install", "mirps", "--tool-path", tools, "--source", packages);

            var (code, output) = await RunAsync(Path.Combine(tools, OperatingSystem.IsWindows() ? "mirps.exe" : "mirps"), "--help");

            Assert.True(code == 0, output);
            Assert.Contains("Usage:", output);
            foreach (var command in new[] { "submit", "query", "sync", "devnet", "credentials", "certs", "regional", "node" })
            {
                Assert.Contains($"\n  {command} ", output);
            }
            // What `mirps devnet` starts from beside mirps: each service with its .deps.json (else SQLite's native library is not found).
            var installed = Directory.EnumerateFiles(tools, "*", SearchOption.AllDirectories).Select(Path.GetFileName).ToHashSet();
            foreach (var service in new[] { "MirpsExchange.Node", "MirpsExchange.Identity", "MirpsExchange.Secretariat" })
            {
                Assert.Contains($"{service}.dll", installed);
                Assert.Contains($"{service}.deps.json", installed);
                Assert.Contains($"{service}.runtimeconfig.json", installed);
            }
            Assert.Contains("BLZ.csv", installed);
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    private static async Task DotnetAsync(params string[] arguments)
    {
        var (code, output) = await RunAsync("dotnet", arguments);
        Assert.True(code == 0, $"dotnet {string.Join(' ', arguments)} failed ({code}):\n{output}");
    }

    private static async Task<(int Code, string Output)> RunAsync(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {program}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} did not finish within 3 minutes");
        }
        return (process.ExitCode, await output + await error);
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "MirpsExchange.sln")))
            {
                return folder.FullName;
            }
        }
        throw new InvalidOperationException($"no MirpsExchange.sln above {AppContext.BaseDirectory}");
    }
}
