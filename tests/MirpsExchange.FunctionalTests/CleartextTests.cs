using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Mirps.Auth;
using MirpsExchange.Cli;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Node.Extensions;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// Plain http:// to another machine would carry a client secret, a bearer token or data in cleartext: every
/// CLI command refuses such an address before it sends anything, and a node refuses such a peer at start-up.
/// </summary>
public sealed class CleartextTests : IAsyncLifetime
{
    /// <summary>Addresses on another machine (10.1.2.3), and a name that can never resolve (RFC 2606 .invalid).</summary>
    private const string RemoteAddress = "http://10.1.2.3:5100/", UnresolvableAddress = "http://identity.mirps.invalid/";

    private readonly ConnectionSentinel _sentinel = new();
    private string _folder = "";
    private string _credential = "";

    public Task InitializeAsync()
    {
        _folder = TempFolder.Create();
        _credential = Path.Combine(_folder, "credential.json");
        // Never used: the command must stop before it reads, let alone sends, this credential.
        OwnerOnlyFile.WriteAllText(_credential, JsonSerializer.Serialize(new ClientCredential("blz-state-never-sent", "secret-never-sent")));
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        _sentinel.Dispose();
        TempFolder.Delete(_folder);
        return Task.CompletedTask;
    }

    /// <summary>
    /// One command of each family, with <paramref name="refused"/> as <paramref name="option"/> and every other address on
    /// the sentinel. Every command asks the identity server (then the node) first, so a request of any kind
    /// shows as a connection to the sentinel, or (with an address that cannot resolve) as a failed look-up.
    /// </summary>
    private string[] Command(string family, string option, string refused)
    {
        var (command, nodeOption) = family switch
        {
            "submit" => (new[] { "submit", Path.Combine(AppContext.BaseDirectory, "Samples", "BLZ.csv") }, "--node"),
            "query" => (["query", "--indicator", "REFUGEES"], "--node"),
            "sync status" => (["sync", "status"], "--node"),
            "regional" => (["regional", "show", "REFUGEES", "--period", "2023"], "--secretariat"),
            "credentials" => (["credentials", "list"], "--admin-api"),
            _ => throw new ArgumentOutOfRangeException(nameof(family)),
        };
        string Address(string name) => name == option ? refused : _sentinel.Address;
        return [.. command, nodeOption, Address(nodeOption), "--identity", Address("--identity"), "--credential", _credential];
    }

    [Theory]
    [InlineData("submit", "--identity", RemoteAddress)]
    [InlineData("submit", "--identity", UnresolvableAddress)]
    [InlineData("submit", "--node", RemoteAddress)]
    [InlineData("submit", "--node", UnresolvableAddress)]
    [InlineData("query", "--identity", RemoteAddress)]
    [InlineData("query", "--node", RemoteAddress)]
    [InlineData("sync status", "--identity", RemoteAddress)]
    [InlineData("sync status", "--node", UnresolvableAddress)]
    [InlineData("regional", "--identity", UnresolvableAddress)]
    [InlineData("regional", "--secretariat", RemoteAddress)]
    [InlineData("credentials", "--identity", RemoteAddress)]
    [InlineData("credentials", "--admin-api", RemoteAddress)]
    public async Task A_plain_http_address_off_this_machine_is_refused_before_any_request(string family, string option, string address)
    {
        var args = Command(family, option, address);

        // At once: an attempt to reach 10.1.2.3 would wait for a connection timeout.
        var result = await CliRunner.RunAsync(args).WaitAsync(TimeSpan.FromSeconds(15));

        Assert.Equal(CliApp.Refused, result.Code);
        Assert.Contains($"{option} is {address}: plain http:// would carry secrets and tokens across the network in cleartext; use https://", result.Error);
        // Nothing was sent: no connection to the sentinel (the identity server every command asks first, or the node) ...
        Assert.Equal(0, _sentinel.Connections);
        // ... and no name looked up or token asked for (those failures say "no token" and exit with 2).
        Assert.DoesNotContain("no token", result.Error);
        Assert.DoesNotContain("could not be reached", result.Error);
    }

    [Theory]
    [InlineData("https://10.1.2.3:5100/")]
    [InlineData("http://127.0.0.2:5100/")]
    [InlineData("http://[::1]:5100/")]
    [InlineData("http://localhost:5100/")]
    public async Task Https_anywhere_and_http_on_loopback_pass_the_rule(string address)
    {
        // The node is the sentinel's address or the one under test; --identity is the sentinel, which closes every
        // connection: the command gets past option parsing and fails on the token request (exit code 2).
        var result = await CliRunner.RunAsync(Command("query", "--node", address)).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(CliApp.Failed, result.Code);
        Assert.DoesNotContain("cleartext", result.Error);
        Assert.Contains("no token from the identity server", result.Error);
    }

    [Theory]
    [InlineData("http://10.1.2.3:5100")]
    [InlineData("http://node.blz.mirps.invalid:5100")]
    public async Task A_node_refuses_to_start_with_a_plain_http_peer_off_loopback(string peer)
    {
        var error = await Record.ExceptionAsync(async () =>
        {
            await using var node = await TestNode.StartAsync("PAN", null,
                $"--Node:Credential={_credential}", $"--Node:Peers:0:Address={peer}", "--Node:Peers:0:Origins:0=BLZ", "--Node:Peers:0:Country=BLZ");
        });

        var refused = Assert.IsType<OptionsValidationException>(error);
        Assert.Contains($"Configuration key Node:Peers:0:Address is {new Uri(peer)}: plain http:// would carry secrets and tokens across the network in cleartext", refused.Message);
    }

    [Theory]
    [InlineData("https://node.blz.mirps.example:5100")]
    [InlineData("http://127.0.0.1:1")]
    public async Task A_node_starts_with_an_https_peer_or_an_http_peer_on_loopback(string peer)
    {
        await using var node = await TestNode.StartAsync("PAN", null,
            $"--Node:Credential={_credential}", $"--Node:Peers:0:Address={peer}", "--Node:Peers:0:Origins:0=BLZ", "--Node:Peers:0:Country=BLZ");

        Assert.StartsWith("http://127.0.0.1:", node.Address);
    }

    /// <summary>A loopback port that accepts and at once closes every connection, counting them: it proves whether a command sent anything.</summary>
    private sealed class ConnectionSentinel : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private int _connections;

        public ConnectionSentinel()
        {
            _listener.Start();
            Address = $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/";
            _ = AcceptAsync();
        }

        public string Address { get; }

        public int Connections => Volatile.Read(ref _connections);

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    using var client = await _listener.AcceptTcpClientAsync();
                    Interlocked.Increment(ref _connections);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // stopped
            }
        }

        public void Dispose() => _listener.Stop();
    }
}
