using System.Diagnostics;

namespace MirpsExchange.Cli.Federation;

/// <summary>
/// A node started as its own process from the node's build output beside this program (the CLI references
/// the node project, so MirpsExchange.Node.dll is copied next to mirps.dll). Its output goes to node.log in
/// its folder; it is killed when disposed.
/// </summary>
public sealed class NodeProcess : IDisposable
{
    private readonly Process _process;
    private readonly string _addressFile;

    private NodeProcess(string country, Process process, string addressFile)
    {
        Country = country;
        _process = process;
        _addressFile = addressFile;
    }

    public string Country { get; }
    public string Address { get; private set; } = "";

    public static NodeProcess Start(string country, string folder, params string[] extraArguments)
    {
        Directory.CreateDirectory(folder);
        var addressFile = Path.Combine(folder, "address");
        File.Delete(addressFile);
        var nodeDll = Path.Combine(AppContext.BaseDirectory, "MirpsExchange.Node.dll");
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = folder,
        };
        foreach (var argument in new[]
        {
            nodeDll, $"--Node:Country={country}", "--Node:Port=0", $"--Node:DataDirectory={folder}",
            $"--Node:AddressFile={addressFile}", $"--contentRoot={AppContext.BaseDirectory}",
        })
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start the node of {country}");
        var log = new StreamWriter(Path.Combine(folder, "node.log"), append: true) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.Exited += (_, _) => { lock (log) log.Dispose(); };
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new NodeProcess(country, process, addressFile);
    }

    public async Task WaitUntilListeningAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!File.Exists(_addressFile))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the node of {Country} exited with code {_process.ExitCode}; see {Path.Combine(Path.GetDirectoryName(_addressFile)!, "node.log")}");
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the node of {Country} did not start listening within {timeout.TotalSeconds:0} s");
            }
            await Task.Delay(50, cancellationToken);
        }
        Address = (await File.ReadAllTextAsync(_addressFile, cancellationToken)).Trim();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        _process.Dispose();
    }

    private static string DotnetHost()
    {
        var current = Environment.ProcessPath;
        return current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet" ? current : "dotnet";
    }
}
