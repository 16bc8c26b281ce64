using System.Globalization;
using System.Runtime.InteropServices;
using Grpc.Net.Client;
using Mirps.Auth;
using MirpsExchange.Cli.Federation;

namespace MirpsExchange.Chaos;

/// <summary>
/// devnet's processes, as `mirps devnet` starts them (<see cref="ServiceProcess"/>, <see cref="DevnetCredentials"/>):
/// the identity server, three State nodes and the Secretariat, each its own OS process with its store in a temporary
/// folder. Every State node pulls the other two States, the Secretariat pulls every State from its own node and
/// also from a neighbour that relays it; every pull crosses a <see cref="FaultProxy"/> of its own (puller -> node),
/// and the harness's own clients cross a clean one per process, so addresses stay put while processes restart.
/// </summary>
public sealed class Federation : IAsyncDisposable
{
    public static readonly string[] States = ["BLZ", "CRI", "PAN"];
    public const string Secretariat = "secretariat";
    public const string Identity = "identity";

    /// <summary>PAN keeps its figures of internally displaced people for the Secretariat only (every other indicator goes to every State).</summary>
    public const string SecretOrigin = "PAN", SecretIndicator = "IDPS";

    /// <summary>Counts of 1 to SmallCountThreshold - 1 are withheld from other States.</summary>
    public const int SmallCountThreshold = 5;

    private readonly string _folder;
    private readonly Action<string> _violation;
    private readonly Dictionary<string, ServiceProcess> _processes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string[]> _arguments = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string[]> _faultArguments = new(StringComparer.Ordinal);
    /// <summary>Processes the harness has taken down on purpose (killed, or paused), which the supervisor leaves alone.</summary>
    private readonly HashSet<string> _down = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _supervisor;
    private int _identityPort, _identityGrpcPort;

    private Federation(string folder, Action<string> violation)
    {
        _folder = folder;
        _violation = violation;
    }

    /// <summary>Link proxies by "puller->node" (puller: a State or "secretariat").</summary>
    public Dictionary<string, FaultProxy> Links { get; } = new(StringComparer.Ordinal);

    /// <summary>The harness's clean way to each node ("BLZ", ..., "secretariat").</summary>
    public Dictionary<string, FaultProxy> ClientWays { get; } = new(StringComparer.Ordinal);

    public Uri Issuer { get; private set; } = null!;
    public IReadOnlyDictionary<string, ClientCredential> Credentials { get; private set; } = null!;
    public HttpClient Http { get; } = new();

    /// <summary>How many times each process was (re)started.</summary>
    public Dictionary<string, int> Starts { get; } = new(StringComparer.Ordinal);

    public static IEnumerable<string> Nodes => [.. States, Secretariat];

    /// <summary>The State whose node the Secretariat also pulls <paramref name="origin"/> from (a relay).</summary>
    public static string RelayOf(string origin) => States[(Array.IndexOf(States, origin) + 1) % States.Length];

    /// <summary>Every link a fault can be put on, named "puller->node".</summary>
    public static IReadOnlyList<string> LinkNames =>
    [
        .. States.SelectMany(puller => States.Where(s => s != puller).Select(node => $"{puller}->{node}")),
        .. States.Select(node => $"{Secretariat}->{node}"),
    ];

    public string LogOf(string name) => Path.Combine(_folder, name, "service.log");

    public static async Task<Federation> StartAsync(string folder, Action<string> violation, CancellationToken cancellationToken)
    {
        var federation = new Federation(folder, violation);
        try
        {
            await federation.StartAllAsync(cancellationToken);
            return federation;
        }
        catch
        {
            await federation.DisposeAsync();
            throw;
        }
    }

    private async Task StartAllAsync(CancellationToken cancellationToken)
    {
        foreach (var link in LinkNames)
        {
            Links[link] = new FaultProxy(link);
        }
        foreach (var node in Nodes)
        {
            ClientWays[node] = new FaultProxy($"harness->{node}");
        }

        // Tests ask for many tokens with one credential (each restarted node asks again).
        _arguments[Identity] = ["--Identity:TokensPerClientPerMinute=1000000", "--Logging:LogLevel:Default=Warning"];
        await StartProcessAsync(Identity, cancellationToken);
        var identity = _processes[Identity];
        Issuer = new Uri(identity.Addresses[0].TrimEnd('/') + "/");
        _identityPort = Issuer.Port;
        _identityGrpcPort = new Uri(identity.Addresses[1]).Port;
        var adminApi = new Uri(identity.Addresses[1]);
        Credentials = await DevnetCredentials.EnsureAsync(Http, _folder, Issuer, adminApi, States, cancellationToken);

        foreach (var state in States)
        {
            var peers = States.Where(s => s != state).SelectMany((origin, i) => new[]
            {
                $"--Node:Peers:{i}:Address={Links[$"{state}->{origin}"].Address}", $"--Node:Peers:{i}:Origins:0={origin}", $"--Node:Peers:{i}:Country={origin}",
            });
            _arguments[state] = [.. CommonNodeArguments(state), .. SharingPolicy(state), .. peers];
        }

        // The Secretariat pulls every State from its own node, and its neighbour's origin through it (a relay).
        _arguments[Secretariat] =
        [
            .. CommonNodeArguments(""),
            .. States.SelectMany((state, i) => new[]
            {
                $"--Node:Peers:{i}:Address={Links[$"{Secretariat}->{state}"].Address}", $"--Node:Peers:{i}:Country={state}",
                $"--Node:Peers:{i}:Origins:0={state}", $"--Node:Peers:{i}:Origins:1={States.Single(o => RelayOf(o) == state)}",
            }),
        ];
        // All four at once (the Secretariat's pulls are refused until the States' log keys are registered, and tried again).
        await Task.WhenAll(Nodes.Select(node => StartProcessAsync(node, cancellationToken)));
        // Each node made its log-signing key at its first start: the admin registers the public halves (as devnet does).
        await DevnetCredentials.RegisterLogKeysAsync(Http, _folder, Issuer, adminApi,
            States.Select(s => (s, Path.Combine(_folder, s, $"log-signing-key-{s.ToLowerInvariant()}.pub.pem"))), cancellationToken);
        _supervisor = SuperviseAsync();
    }

    private string[] CommonNodeArguments(string country) =>
    [
        $"--Node:Credential={DevnetCredentials.PathOf(_folder, country)}",
        // A pull that hears nothing while its peer holds more is given up and tried again after this (2 minutes by default).
        "--Node:PeerStallTimeout=00:00:10",
        "--Logging:LogLevel:Default=Warning",
    ];

    /// <summary>devnet's policy: every indicator for every State, small counts withheld from other States; PAN's IDPS for the Secretariat only.</summary>
    private static string[] SharingPolicy(string state) =>
    [
        "--Node:Sharing:Default:Readers=all",
        $"--Node:Sharing:Default:SmallCountThreshold={SmallCountThreshold}",
        .. state == SecretOrigin ? new[] { $"--Node:Sharing:Indicators:{SecretIndicator}:Readers=secretariat" } : [],
    ];

    private async Task StartProcessAsync(string name, CancellationToken cancellationToken)
    {
        string[] arguments = [.. _arguments[name], .. _faultArguments.GetValueOrDefault(name, [])];
        var folder = Path.Combine(_folder, name);
        var process = name switch
        {
            Identity => ServiceProcess.Identity(folder, [.. arguments, .. _identityPort > 0
                ? new[] { $"--Identity:Port={_identityPort}", $"--Identity:GrpcPort={_identityGrpcPort}" } : []]),
            Secretariat => ServiceProcess.Secretariat(folder, Issuer.ToString(), arguments),
            _ => ServiceProcess.Node(name, folder, Issuer.ToString(), arguments),
        };
        lock (_gate)
        {
            _processes[name] = process;
            Starts[name] = Starts.GetValueOrDefault(name) + 1;
        }
        // A restarted identity server may find its port still held for a moment: it exits, and the supervisor starts it again.
        await process.WaitUntilListeningAsync(TimeSpan.FromSeconds(90), cancellationToken);
        if (name != Identity)
        {
            var upstream = new Uri(process.Address).Authority;
            foreach (var (link, proxy) in Links)
            {
                if (link.EndsWith($"->{name}", StringComparison.Ordinal))
                {
                    proxy.Upstream = upstream;
                }
            }
            ClientWays[name].Upstream = upstream;
        }
    }

    /// <summary>kill -9: the process is gone, its proxies refuse until it is back.</summary>
    public void Kill(string name)
    {
        lock (_gate)
        {
            _down.Add(name);
            Resume(name); // a paused process is killed as it is, but is not left stopped for the next one's id
            _processes[name].Dispose();
        }
        foreach (var (link, proxy) in Links.Concat(ClientWays.Select(c => KeyValuePair.Create($"->{c.Key}", c.Value))))
        {
            if (link.EndsWith($"->{name}", StringComparison.Ordinal))
            {
                proxy.Upstream = null;
            }
        }
    }

    /// <summary>Starts a killed process again on its store, with the fault arguments now in force.</summary>
    public async Task RestartAsync(string name, CancellationToken cancellationToken)
    {
        await StartProcessAsync(name, cancellationToken);
        lock (_gate)
        {
            _down.Remove(name);
        }
    }

    /// <summary>A process restarted with other fault arguments (a full disk, a skewed clock; none: as configured).</summary>
    public async Task RestartWithAsync(string name, string[] faultArguments, CancellationToken cancellationToken)
    {
        Kill(name);
        _faultArguments[name] = faultArguments;
        await RestartAsync(name, cancellationToken);
    }

    public void Pause(string name)
    {
        lock (_gate)
        {
            _down.Add(name);
            Signal(_processes[name].Id, SIGSTOP);
        }
    }

    public void Continue(string name)
    {
        lock (_gate)
        {
            Resume(name);
            _down.Remove(name);
        }
    }

    private void Resume(string name)
    {
        if (!_processes[name].HasExited)
        {
            Signal(_processes[name].Id, SIGCONT);
        }
    }

    /// <summary>A gRPC channel to a node through the harness's clean proxy, whose calls carry <paramref name="tokens"/>.</summary>
    public GrpcChannel Channel(string node, TokenClient tokens) => AuthenticatedChannel.Create(new Uri(ClientWays[node].Address), tokens);

    public TokenClient Tokens(string credentialOf, string node, string scope) =>
        new(Http, new Uri(Issuer, MirpsAuth.TokenEndpointPath), Credentials[credentialOf], scope, MirpsAuth.NodeAudience(node == Secretariat ? null : node));

    /// <summary>
    /// The supervisor a service manager would be: a process that exits on its own (not killed by the harness) is a
    /// violation, and it is started again so the run goes on.
    /// </summary>
    private async Task SuperviseAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(500, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            List<string> exited;
            lock (_gate)
            {
                exited = [.. _processes.Where(p => !_down.Contains(p.Key) && p.Value.HasExited).Select(p => p.Key)];
                foreach (var name in exited)
                {
                    _down.Add(name);
                }
            }
            foreach (var name in exited)
            {
                _violation(string.Create(CultureInfo.InvariantCulture, $"{name} exited on its own with code {_processes[name].ExitCode} (see {LogOf(name)}); restarted"));
                try
                {
                    await RestartAsync(name, _stop.Token);
                }
                catch (Exception e) when (e is TimeoutException or InvalidOperationException)
                {
                    _violation($"{name} did not start again: {e.Message}");
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_supervisor is not null)
        {
            await _supervisor;
        }
        lock (_gate)
        {
            foreach (var (name, process) in _processes)
            {
                Resume(name);
                process.Dispose();
            }
        }
        foreach (var proxy in Links.Values.Concat(ClientWays.Values))
        {
            await proxy.DisposeAsync();
        }
        Http.Dispose();
        _stop.Dispose();
    }

    private const int SIGCONT = 18, SIGSTOP = 19;

    private static void Signal(int pid, int signal)
    {
        if (kill(pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

#pragma warning disable SYSLIB1054 // a two-int libc call; LibraryImport would need unsafe blocks for nothing
    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
#pragma warning restore SYSLIB1054
}
