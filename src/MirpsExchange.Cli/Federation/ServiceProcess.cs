using System.Diagnostics;

namespace MirpsExchange.Cli.Federation;

/// <summary>
/// A node, the Secretariat or the identity server started as its own process from the build output beside this
/// program (the CLI references both projects, so their assemblies are copied next to mirps.dll). Its
/// output goes to a log file in its folder; it writes its address(es) to a file once it listens; it is
/// killed when disposed.
/// </summary>
public sealed class ServiceProcess : IDisposable
{
    private readonly Process _process;
    private readonly string _addressFile;
    private readonly string _log;

    private ServiceProcess(string name, Process process, string addressFile, string log)
    {
        Name = name;
        _process = process;
        _addressFile = addressFile;
        _log = log;
    }

    /// <summary>What it is, for messages: "node BLZ", "secretariat", "identity server".</summary>
    public string Name { get; }

    /// <summary>Every address it listens on, in the order it wrote them (after <see cref="WaitUntilListeningAsync"/>).</summary>
    public IReadOnlyList<string> Addresses { get; private set; } = [];

    public string Address => Addresses[0];

    /// <summary>The operating system's process id (the chaos harness stops and continues it with signals).</summary>
    public int Id => _process.Id;

    /// <summary>Whether it has exited (crashed, or was killed), and then its exit code.</summary>
    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Where its output goes.</summary>
    public string LogFile => _log;

    /// <summary>The CPU time the process has used so far (user and system), for benchmarks.</summary>
    public TimeSpan ProcessorTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>A State's node trusting the identity server at <paramref name="issuer"/>.</summary>
    public static ServiceProcess Node(string country, string folder, string issuer, params string[] extraArguments) =>
        PublishedNode(AppContext.BaseDirectory, country, folder, issuer, extraArguments);

    /// <summary>
    /// As <see cref="Node(string, string, string, string[])"/>, with configuration in <paramref name="environment"/> too
    /// (ConnectionStrings__Store: a connection string with a password stays off the command line others may read).
    /// </summary>
    public static ServiceProcess Node(string country, string folder, string issuer, IReadOnlyDictionary<string, string> environment, params string[] extraArguments) =>
        Start($"node {country}", Path.Combine(AppContext.BaseDirectory, "MirpsExchange.Node.dll"), folder, "Node",
            [$"--Node:Country={country}", "--Node:Port=0", $"--Node:DataDirectory={folder}", $"--Node:Issuer={issuer}", .. extraArguments], environment);

    /// <summary>A State's node run from <paramref name="directory"/>, where it was published (dotnet publish), as a State deploys it.</summary>
    public static ServiceProcess PublishedNode(string directory, string country, string folder, string issuer, params string[] extraArguments) =>
        Start($"node {country}", Path.Combine(directory, "MirpsExchange.Node.dll"), folder, "Node",
            [$"--Node:Country={country}", "--Node:Port=0", $"--Node:DataDirectory={folder}", $"--Node:Issuer={issuer}", .. extraArguments]);

    /// <summary>The Secretariat: a node of no State that replicates the States and serves the regional indicators.</summary>
    public static ServiceProcess Secretariat(string folder, string issuer, params string[] extraArguments) =>
        Secretariat(folder, issuer, new Dictionary<string, string>(), extraArguments);

    /// <summary>The Secretariat, with configuration in <paramref name="environment"/> too (as for <see cref="Node(string, string, string, IReadOnlyDictionary{string, string}, string[])"/>).</summary>
    public static ServiceProcess Secretariat(string folder, string issuer, IReadOnlyDictionary<string, string> environment, params string[] extraArguments) =>
        Start("secretariat", Path.Combine(AppContext.BaseDirectory, "MirpsExchange.Secretariat.dll"), folder, "Node",
            ["--Node:Port=0", $"--Node:DataDirectory={folder}", $"--Node:Issuer={issuer}", .. extraArguments], environment);

    /// <summary>The identity server; its addresses are the OAuth2 endpoints (the issuer) then the gRPC admin API.</summary>
    public static ServiceProcess Identity(string folder, params string[] extraArguments) =>
        Start("identity server", Path.Combine(AppContext.BaseDirectory, "MirpsExchange.Identity.dll"), folder, "Identity",
            ["--Identity:Port=0", "--Identity:GrpcPort=0", $"--Identity:DataDirectory={folder}", .. extraArguments]);

    private static ServiceProcess Start(string name, string assembly, string folder, string section, string[] arguments, IReadOnlyDictionary<string, string>? environment = null)
    {
        // The service's own folder holds its store (and the identity server's keys): its user's alone (a node refuses anything wider).
        MirpsExchange.ServiceDefaults.OwnerOnlyFile.CreateDirectory(folder);
        var addressFile = Path.Combine(folder, "address");
        File.Delete(addressFile);
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = folder,
        };
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        start.ArgumentList.Add(assembly);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        start.ArgumentList.Add($"--{section}:AddressFile={addressFile}");
        // The content root is the service's own folder: no appsettings.json of another service applies.
        start.ArgumentList.Add($"--contentRoot={folder}");
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start the {name}");
        var logPath = Path.Combine(folder, "service.log");
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.Exited += (_, _) => { lock (log) log.Dispose(); };
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ServiceProcess(name, process, addressFile, logPath);
    }

    public async Task WaitUntilListeningAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!File.Exists(_addressFile))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the {Name} exited with code {_process.ExitCode}; see {_log}");
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the {Name} did not start listening within {timeout.TotalSeconds:0} s; see {_log}");
            }
            await Task.Delay(50, cancellationToken);
        }
        Addresses = [.. (await File.ReadAllLinesAsync(_addressFile, cancellationToken)).Select(a => a.Trim()).Where(a => a.Length > 0)];
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
