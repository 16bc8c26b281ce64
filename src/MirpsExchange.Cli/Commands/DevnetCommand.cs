using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Mirps.Auth;
using MirpsExchange.Cli.Federation;
using Mirps.Observation.V1;
using Grpc.Net.Client;
using Mirps.Regional.V1;
using Mirps.Sync.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Periods;
using Spectre.Console;

namespace MirpsExchange.Cli.Commands;

/// <summary>
/// <c>mirps devnet</c>: the local federation on this machine. The identity server, one node process per
/// MIRPS State and the Secretariat on loopback, with their SQLite stores under one folder; every
/// credential is issued through the identity server's CredentialService with the bootstrap admin
/// credential; each State shares under a sharing policy and submits its sample data with its own
/// credential; the Secretariat replicates every State (Costa Rica also replicates Panama), and once it
/// has caught up its figures are printed: each State's totals, the regional indicators and the
/// completeness matrix.
/// </summary>
public static class DevnetCommand
{
    private static readonly string[] Headline =
    [
        "ASYLUM_APPLICATIONS", "DECISIONS_RECOGNIZED", "DECISIONS_COMPLEMENTARY", "DECISIONS_REJECTED",
        "REFUGEES", "ASYLUM_SEEKERS", "MEDIAN_PROCESSING_DAYS",
    ];

    public static Command Create()
    {
        var folder = new Option<DirectoryInfo>("--dir")
        {
            Description = "Folder for the nodes' stores and logs (reused by the next run)",
            DefaultValueFactory = _ => new DirectoryInfo(Path.Combine(".mirps", "devnet")),
        };
        var once = new Option<bool>("--once") { Description = "Exit after loading and printing instead of running until Ctrl+C" };
        var reset = new Option<bool>("--reset") { Description = "Delete the folder first and start from empty stores" };
        var period = new Option<string>("--period") { Description = "Period of the printed table", DefaultValueFactory = _ => "2023" };
        var tls = new Option<bool>("--tls")
        {
            Description = "Serve every process over TLS with development certificates (made in DIR/certs/ if missing); every client trusts only their CA",
        };
        var catalogueV1 = CatalogueV1Option();
        var store = new Option<string>("--store")
        {
            Description = "The nodes' and the Secretariat's store: sqlite (a file each, the default) or postgres (a database each: on --postgres, "
                + "else on a throwaway PostgreSQL server started in DIR/postgres for this run, its stores empty at every run)",
            DefaultValueFactory = _ => "sqlite",
        };
        store.AcceptOnlyFromAmong("sqlite", "postgres");
        var postgres = new Option<string>("--postgres")
        {
            Description = "With --store postgres: a connection string of an existing server (Host=...;Username=...;Password=...); "
                + "a database mirps_<name> is made per process when missing (the role needs CREATEDB). Also read from MIRPS_DEVNET_POSTGRES",
        };
        var command = new Command("devnet", "Start the local federation (identity server, a node per MIRPS State and the Secretariat on loopback), load the sample data, sync it to the Secretariat and print the regional figures") { folder, once, reset, period, tls, catalogueV1, store, postgres };
        command.SetAction((parse, cancellationToken) => RunAsync(
            parse.GetRequiredValue(folder), parse.GetValue(once), parse.GetValue(reset), parse.GetRequiredValue(period),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, cancellationToken, parse.GetValue(tls), parse.GetValue(catalogueV1),
            parse.GetValue(store) == "postgres" ? parse.GetValue(postgres) ?? Environment.GetEnvironmentVariable("MIRPS_DEVNET_POSTGRES") ?? "" : null));
        return command;
    }

    /// <summary>
    /// --catalogue-v1 BLZ,CRI: the States whose nodes run on catalogue 1.0.0 (Node:CatalogueVersion), a mixed federation as
    /// while States upgrade on different days. Comma- or space-separated MIRPS States, case-insensitive.
    /// </summary>
    /// <summary>
    /// The sample file as a State not yet on catalogue 2.0 holds it: the same rows without catalogue 2.0's attributes
    /// (a 1.0 node refuses them), written to the devnet folder.
    /// </summary>
    private static FileInfo CatalogueOneCopy(FileInfo sample, DirectoryInfo folder)
    {
        using var reader = sample.OpenText();
        var rows = MirpsExchange.Catalogue.Csv.ObservationCsv.Read(reader).Observations;
        foreach (var row in rows)
        {
            default(Mirps.Log.ValueAttributes).CopyTo(row);
        }
        var copy = new FileInfo(Path.Combine(folder.FullName, "samples-catalogue-1.0.0", sample.Name));
        copy.Directory!.Create();
        using (var writer = copy.CreateText())
        {
            MirpsExchange.Catalogue.Csv.ObservationCsv.Write(writer, rows);
        }
        return copy;
    }

    public static Option<string[]> CatalogueV1Option() => new("--catalogue-v1")
    {
        Description = "States whose nodes run on catalogue 1.0.0 (a mixed federation, as while States upgrade on different days), e.g. BLZ,CRI",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = true,
        CustomParser = result =>
        {
            var states = StandardCatalogue.LoadStandard().ReportingCountries;
            var named = result.Tokens.SelectMany(t => t.Value.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                .Select(s => s.ToUpperInvariant()).Distinct().ToArray();
            if (named.Length == 0 || named.Any(s => !states.Contains(s)))
            {
                result.AddError($"--catalogue-v1 lists MIRPS States ({string.Join(",", states.Order(StringComparer.Ordinal))}), for example BLZ,CRI; got '{string.Join(" ", result.Tokens.Select(t => t.Value))}'");
            }
            return named;
        },
    };

    /// <param name="postgres">null: SQLite stores; "": PostgreSQL on a throwaway server in DIR/postgres; else the connection string of a server to use.</param>
    public static async Task<int> RunAsync(DirectoryInfo folder, bool once, bool reset, string period, TextWriter output, TextWriter error,
        CancellationToken cancellationToken, bool tls = false, IReadOnlyCollection<string>? catalogueV1 = null, string? postgres = null)
    {
        catalogueV1 ??= [];
        string[] CatalogueArguments(string state) => catalogueV1.Contains(state) ? ["--Node:CatalogueVersion=1.0.0"] : [];
        string OnCatalogue(string state) => catalogueV1.Contains(state) ? " on catalogue 1.0.0" : "";
        var console = CommonOptions.Console(output, minimumWidth: 140);
        var catalogue = StandardCatalogue.LoadStandard();
        var states = catalogue.Catalog.Codelists.Single(c => c.Id == StandardCatalogue.ReportingCountryCodelist).Codes.Select(c => c.Id).ToList();
        if (reset && folder.Exists)
        {
            folder.Delete(recursive: true);
        }
        folder.Create();
        // With --tls: the development CA and a certificate per process, kept across runs; every client trusts that CA only.
        var certificates = Path.Combine(folder.FullName, "certs");
        var ca = tls ? new FileInfo(DevelopmentCertificates.CertificateFile(certificates, DevelopmentCertificates.CaName)) : null;
        // Every client presents its party's client certificate (admin, a State's national system, the Secretariat's reader).
        var clients = new Dictionary<string, ClientTls>();
        ClientTls ClientOf(string party)
        {
            if (!tls)
            {
                return ClientTls.None;
            }
            if (!clients.TryGetValue(party, out var client))
            {
                var name = DevelopmentCertificates.ClientName(party);
                client = new ClientTls(ca!.FullName, Mirps.Tls.FederationTrust.LoadClientCertificate(
                    DevelopmentCertificates.CertificateFile(certificates, name), DevelopmentCertificates.KeyFile(certificates, name)));
                clients[party] = client;
            }
            return client;
        }
        // A node's HTTP/JSON routes and web app: with TLS on its one port; in cleartext also on an HTTP/1.1 port of its own
        // (curl's default). That port is chosen before the process starts, so the web app's redirect URIs can be registered.
        var webPorts = states.Append("secretariat").ToDictionary(name => name.ToLowerInvariant(), _ => DevnetWebApp.FreePort());
        var webClientId = "";
        string[] NodeListenArguments(string name) =>
        [
            .. TlsArguments(name),
            tls ? $"--Node:Port={webPorts[name]}" : $"--Node:HttpPort={webPorts[name]}",
            $"--Web:ClientId={webClientId}",
        ];
        string[] TlsArguments(string name) => tls
            ?
            [
                $"--Tls:CertificateFile={DevelopmentCertificates.CertificateFile(certificates, name)}",
                $"--Tls:KeyFile={DevelopmentCertificates.KeyFile(certificates, name)}",
                $"--Tls:CaFile={ca!.FullName}",
            ]
            : [];

        var nodes = new List<(string Country, ServiceProcess Process)>();
        ServiceProcess? identity = null;
        ServiceProcess? secretariat = null;
        ThrowawayPostgres? throwaway = null;
        try
        {
            if (postgres == "")
            {
                var pgFolder = Path.Combine(folder.FullName, "postgres");
                if (Directory.Exists(pgFolder))
                {
                    Directory.Delete(pgFolder, recursive: true);
                }
                // New, empty stores: how far the nodes signed their old ones' logs (beside their kept log keys) no longer
                // applies, and would hold them in recovery as stores put back (Node/Store/RestoreDetection).
                foreach (var mark in Directory.GetFiles(folder.FullName, "log-signing-key-*.high-water", SearchOption.AllDirectories))
                {
                    File.Delete(mark);
                }
                throwaway = await ThrowawayPostgres.StartAsync(pgFolder, cancellationToken);
                postgres = throwaway.ConnectionString("postgres");
                console.MarkupLine($"  PostgreSQL: a throwaway server on 127.0.0.1:{throwaway.Port} in {Markup.Escape(throwaway.Folder)}, a database per process");
            }
            // With PostgreSQL, a database per process (mirps_pan, mirps_secretariat), its connection string in the environment.
            async Task<Dictionary<string, string>> StoreOf(string name) => postgres is null ? [] : new()
            {
                ["Store__Provider"] = "postgres",
                ["ConnectionStrings__Store"] = await ThrowawayPostgres.EnsureDatabaseAsync(postgres, $"mirps_{name.ToLowerInvariant()}", cancellationToken),
            };
            console.MarkupLine($"[bold]MirpsExchange local federation[/] in {Markup.Escape(folder.FullName)}");
            if (tls)
            {
                var made = DevelopmentCertificates.Ensure(certificates, DevelopmentCertificates.DefaultNames);
                console.MarkupLine($"  TLS: CA {Markup.Escape(ca!.FullName)} ({made.Count(m => m.Created)} of {made.Count} certificates made now, the rest kept)");
            }
            using var http = CommonOptions.HttpClient(ClientOf(Mirps.Tls.FederationIdentity.Admin));
            // Over TLS the admin pages (/admin) present the admin's client certificate: people's tokens are bound to it.
            var adminClient = DevelopmentCertificates.ClientName(Mirps.Tls.FederationIdentity.Admin);
            identity = ServiceProcess.Identity(Path.Combine(folder.FullName, "identity"), tls
                ?
                [
                    .. TlsArguments("identity"),
                    $"--Identity:AdminWebCertificateFile={DevelopmentCertificates.CertificateFile(certificates, adminClient)}",
                    $"--Identity:AdminWebKeyFile={DevelopmentCertificates.KeyFile(certificates, adminClient)}",
                ]
                : []);
            await identity.WaitUntilListeningAsync(ListenTimeout, cancellationToken);
            var issuer = new Uri(identity.Addresses[0].TrimEnd('/') + "/");
            console.MarkupLine($"  identity server: issuer {issuer}, admin API {identity.Addresses[1]}");
            var credentials = await DevnetCredentials.EnsureAsync(http, folder.FullName, issuer, new Uri(identity.Addresses[1]), states, cancellationToken, ClientOf(Mirps.Tls.FederationIdentity.Admin));
            console.MarkupLine($"  credentials of the 7 States and the Secretariat in {Markup.Escape(Path.Combine(folder.FullName, "credentials"))}");
            var (clientId, demoAccounts) = await DevnetWebApp.EnsureAsync(http, folder.FullName, issuer, new Uri(identity.Addresses[1]),
                webPorts.Values.Select(port => DevnetWebApp.Address(port, tls)), cancellationToken, ClientOf(Mirps.Tls.FederationIdentity.Admin));
            webClientId = clientId;

            // Costa Rica starts last: it also replicates its neighbour Panama, whose address it needs.
            foreach (var state in states.Where(s => s != Relay))
            {
                nodes.Add((state, ServiceProcess.Node(state, Path.Combine(folder.FullName, state), issuer.ToString(), await StoreOf(state),
                    [.. SharingPolicy(state), .. NodeListenArguments(state.ToLowerInvariant()), .. CatalogueArguments(state)])));
            }
            foreach (var (country, node) in nodes)
            {
                await node.WaitUntilListeningAsync(ListenTimeout, cancellationToken);
                console.MarkupLine($"  node {country} listening on {node.Address}{OnCatalogue(country)}");
            }
            if (states.Contains(Relay))
            {
                var neighbour = nodes.Single(n => n.Country == RelayedNeighbour).Process;
                var relay = ServiceProcess.Node(Relay, Path.Combine(folder.FullName, Relay), issuer.ToString(), await StoreOf(Relay),
                [
                    .. SharingPolicy(Relay), .. NodeListenArguments(Relay.ToLowerInvariant()), .. CatalogueArguments(Relay),
                    $"--Node:Credential={DevnetCredentials.PathOf(folder.FullName, Relay)}",
                    $"--Node:Peers:0:Address={neighbour.Address}", $"--Node:Peers:0:Origins:0={RelayedNeighbour}", $"--Node:Peers:0:Country={RelayedNeighbour}",
                ]);
                nodes.Insert(states.IndexOf(Relay), (Relay, relay));
                await relay.WaitUntilListeningAsync(ListenTimeout, cancellationToken);
                console.MarkupLine($"  node {Relay} listening on {relay.Address}{OnCatalogue(Relay)} (also replicates {RelayedNeighbour})");
            }

            if (!tls)
            {
                // With TLS every address above serves HTTP/JSON too; in cleartext each node has an HTTP/1.1 port for it.
                console.MarkupLine($"  HTTP/1.1 JSON (curl) on {string.Join(", ", nodes.Select(n => $"{n.Country} {n.Process.Addresses[1]}"))}");
            }

            // Each node made its log-signing key at its first start: the admin registers the public halves, so replicas verify every log.
            await DevnetCredentials.RegisterLogKeysAsync(http, folder.FullName, issuer, new Uri(identity.Addresses[1]),
                nodes.Select(n => (n.Country, Path.Combine(folder.FullName, n.Country, $"log-signing-key-{n.Country.ToLowerInvariant()}.pub.pem"))),
                cancellationToken, ClientOf(Mirps.Tls.FederationIdentity.Admin));
            console.MarkupLine("  log-signing keys of the 7 States registered at the identity server");

            // The Secretariat pulls every State from its own node.
            secretariat = ServiceProcess.Secretariat(Path.Combine(folder.FullName, "secretariat"), issuer.ToString(), await StoreOf("secretariat"),
            [
                $"--Node:Credential={DevnetCredentials.PathOf(folder.FullName, "")}",
                .. nodes.SelectMany((n, i) => new[] { $"--Node:Peers:{i}:Address={n.Process.Address}", $"--Node:Peers:{i}:Origins:0={n.Country}", $"--Node:Peers:{i}:Country={n.Country}" }),
                .. NodeListenArguments("secretariat"),
            ]);
            await secretariat.WaitUntilListeningAsync(ListenTimeout, cancellationToken);
            console.MarkupLine($"  secretariat listening on {secretariat.Address}");
            // Its key signs its decision log (accepted, rejected), which States' nodes verify when they pull it.
            await DevnetCredentials.RegisterLogKeysAsync(http, folder.FullName, issuer, new Uri(identity.Addresses[1]),
                [(MirpsAuth.Secretariat, Path.Combine(folder.FullName, "secretariat", $"log-signing-key-{MirpsAuth.Secretariat}.pub.pem"))],
                cancellationToken, ClientOf(Mirps.Tls.FederationIdentity.Admin));
            if (!tls)
            {
                console.MarkupLine($"  secretariat HTTP/1.1 JSON on {secretariat.Addresses[1]}");
            }

            console.MarkupLine($"  web app: {string.Join(", ", webPorts.Select(p => $"{(p.Key == "secretariat" ? p.Key : p.Key.ToUpperInvariant())} {DevnetWebApp.Address(p.Value, tls)}"))}");
            console.MarkupLine(Markup.Escape($"  admin pages (admin accounts, at the identity server): {new Uri(issuer, "admin")}"));
            if (demoAccounts.Count > 0)
            {
                console.MarkupLine("  demo accounts, created now (temporary passwords shown this once; each is changed at its first sign-in):");
                foreach (var (userName, role, password) in demoAccounts)
                {
                    console.MarkupLine(Markup.Escape($"    {userName} ({role}): {password}"));
                }
            }
            else
            {
                console.MarkupLine(Markup.Escape($"  demo accounts {string.Join(", ", DevnetWebApp.DemoAccounts.Select(a => a.UserName))} exist from an earlier run (mirps accounts reset-password gives a new temporary password)"));
            }

            foreach (var (country, node) in nodes)
            {
                var sample = new FileInfo(Path.Combine(AppContext.BaseDirectory, "Samples", $"{country}.csv"));
                if (catalogueV1.Contains(country))
                {
                    sample = CatalogueOneCopy(sample, folder);
                    console.MarkupLine($"  {country} is on catalogue 1.0.0, which has no lower-bound, synthetic or confidentiality attribute: its samples go without them (their notes still say so)");
                }
                var log = new StringWriter();
                var code = await SubmitCommand.RunAsync(sample, new Uri(node.Address), issuer, new Caller(credentials[country], null), 10_000, dryRun: false, log, log, cancellationToken, ClientOf(country));
                console.WriteLine($"  {log.ToString().Trim()}");
                if (code != CliApp.Ok)
                {
                    await error.WriteLineAsync($"error: loading the sample data of {country} failed: {log.ToString().Trim()}");
                    return code;
                }
            }

            // The Secretariat's credential reads every node, with a token for each node (bound to its client certificate over TLS).
            var secretariatTls = ClientOf(Mirps.Tls.FederationIdentity.Secretariat);
            using var readerHttp = CommonOptions.HttpClient(secretariatTls);
            using var readers = new NodeTokenClients(readerHttp, CommonOptions.TokenEndpoint(issuer), credentials[""], MirpsAuth.ReadScope);
            await WaitForSecretariatAsync(console, nodes, secretariat, readers, secretariatTls, cancellationToken);
            try
            {
                using var channel = CommonOptions.AuthenticatedChannel(new Uri(secretariat.Address), readers.For(MirpsAuth.Secretariat), secretariatTls);
                await PrintStatesAsync(console, catalogue, states, channel, period, cancellationToken);
                await PrintRegionalAsync(console, catalogue, channel, period, cancellationToken);
                await PrintCompletenessAsync(console, states, channel, period, cancellationToken);
            }
            catch (RpcException e)
            {
                await error.WriteLineAsync($"error: reading the {period} figures from the Secretariat at {secretariat.Address} failed ({e.StatusCode}: {e.Status.Detail.ReplaceLineEndings(" ")})");
                return CliApp.Failed;
            }

            if (once)
            {
                return CliApp.Ok;
            }
            console.MarkupLine("Running. Press [bold]Ctrl+C[/] to stop every process.");
            await Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => { }, CancellationToken.None);
            return CliApp.Ok;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or RpcException or TokenRequestException or HttpRequestException)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            return CliApp.Failed;
        }
        finally
        {
            secretariat?.Dispose();
            foreach (var (_, node) in nodes)
            {
                node.Dispose();
            }
            identity?.Dispose();
            foreach (var client in clients.Values)
            {
                client.Dispose();
            }
            if (throwaway is not null)
            {
                await throwaway.DisposeAsync();
            }
        }
    }

    /// <summary>The State whose node also replicates a neighbour, and that neighbour.</summary>
    private const string Relay = "CRI", RelayedNeighbour = "PAN";

    /// <summary>
    /// How long a process may take to listen before devnet gives up on it. The six nodes start side by side, each migrating a
    /// new store and fetching its keys: on two busy cores (a laptop building, CI running test projects in parallel) that took
    /// more than a minute.
    /// </summary>
    private static readonly TimeSpan ListenTimeout = TimeSpan.FromMinutes(3);

    /// <summary>
    /// Each State shares every indicator with every MIRPS State and withholds counts of 1 to 4 from other
    /// States; Honduras keeps its figures of internally displaced people (in its sample data) for the Secretariat only.
    /// </summary>
    private static string[] SharingPolicy(string state) =>
    [
        "--Node:Sharing:Default:Readers=all",
        "--Node:Sharing:Default:SmallCountThreshold=5",
        .. state == "HND" ? new[] { "--Node:Sharing:Indicators:IDPS:Readers=secretariat" } : [],
    ];

    /// <summary>Waits until the Secretariat holds every State's latest change, saying so State by State.</summary>
    private static async Task WaitForSecretariatAsync(IAnsiConsole console, List<(string Country, ServiceProcess Process)> nodes, ServiceProcess secretariat,
        NodeTokenClients readers, ClientTls tls, CancellationToken cancellationToken)
    {
        var expected = new Dictionary<string, long>();
        foreach (var (country, node) in nodes)
        {
            using var nodeChannel = CommonOptions.AuthenticatedChannel(new Uri(node.Address), readers.For(country), tls);
            var status = await new SyncService.SyncServiceClient(nodeChannel).GetSyncStatusAsync(new GetSyncStatusRequest(), cancellationToken: cancellationToken);
            expected[country] = status.Origins.SingleOrDefault(o => o.Origin == country)?.LatestSequence ?? 0;
        }
        using var channel = CommonOptions.AuthenticatedChannel(new Uri(secretariat.Address), readers.For(MirpsAuth.Secretariat), tls);
        var sync = new SyncService.SyncServiceClient(channel);
        var caughtUp = new HashSet<string>();
        var watch = Stopwatch.StartNew();
        while (caughtUp.Count < expected.Count)
        {
            var status = await sync.GetSyncStatusAsync(new GetSyncStatusRequest(), cancellationToken: cancellationToken);
            foreach (var (country, sequence) in expected)
            {
                if (!caughtUp.Contains(country) && (sequence == 0 || status.Origins.Any(o => o.Origin == country && o.LatestSequence >= sequence)))
                {
                    caughtUp.Add(country);
                    console.MarkupLine($"  secretariat holds {country}'s {sequence:N0} changes ({caughtUp.Count} of {expected.Count} States, {watch.Elapsed.TotalSeconds:0.0} s)");
                }
            }
            if (caughtUp.Count < expected.Count && watch.Elapsed > TimeSpan.FromSeconds(120))
            {
                var failing = status.Peers.Where(p => p.State is PeerState.Failing or PeerState.Stopped).Select(p => $"{p.Origin}: {p.LastError}");
                throw new TimeoutException($"the Secretariat did not catch up with {string.Join(", ", expected.Keys.Except(caughtUp))} within 120 s " +
                    $"({string.Join("; ", failing.DefaultIfEmpty("no pull failing"))}); see {Path.Combine("secretariat", "service.log")}");
            }
            if (caughtUp.Count < expected.Count)
            {
                await Task.Delay(200, cancellationToken);
            }
        }
    }

    /// <summary>Each State's totals for the period as the Secretariat's replica holds them.</summary>
    private static async Task PrintStatesAsync(IAnsiConsole console, StandardCatalogue catalogue, List<string> states, GrpcChannel channel, string period,
        CancellationToken cancellationToken)
    {
        var table = new Table().Title($"Totals for {period} replicated at the Secretariat (e = estimated, p = provisional, c = confidential)");
        table.AddColumn("Indicator");
        foreach (var state in states)
        {
            table.AddColumn(new TableColumn(state).RightAligned());
        }
        var cells = new Dictionary<(string Indicator, string Country), string>();
        var request = new StreamObservationsRequest { PeriodFrom = period, PeriodTo = period };
        request.IndicatorCodes.Add(Headline);
        using var call = new ObservationService.ObservationServiceClient(channel).StreamObservations(request, cancellationToken: cancellationToken);
        while (await call.ResponseStream.MoveNext(cancellationToken))
        {
            foreach (var stored in call.ResponseStream.Current.Observations)
            {
                var o = stored.Observation;
                var added = Mirps.Log.AddedDimensions.Of(o);
                if (o.Period == period && o.Sex is "" or "_T" && o.Age is "" or "_T" && o.CountryOfOrigin is "" or "_T"
                    && Enumerable.Range(0, Mirps.Log.AddedDimensions.Count).All(added.IsEmptyOrDefault))
                {
                    cells[(o.IndicatorCode, o.Country)] = (o.LowerBound ? "≥ " : "") + RegionalText.Figure(o.Value, o.Status) + (o.Synthetic ? " synthetic" : "");
                }
            }
        }
        foreach (var code in Headline)
        {
            var name = catalogue.FindIndicator(code)!.Indicator.Name.En;
            table.AddRow([Markup.Escape(name), .. states.Select(s => cells.TryGetValue((code, s), out var v) ? v : "-")]);
        }
        console.Write(table);
    }

    /// <summary>The regional figures: totals of additive indicators (partial ones say so and name who is missing) and the rates from their components.</summary>
    private static async Task PrintRegionalAsync(IAnsiConsole console, StandardCatalogue catalogue, GrpcChannel channel, string period, CancellationToken cancellationToken)
    {
        var regional = new RegionalService.RegionalServiceClient(channel);
        var table = new Table().Title($"MIRPS regional indicators for {period}");
        table.AddColumn("Indicator");
        table.AddColumn(new TableColumn("Region").RightAligned());
        table.AddColumn("Coverage");
        foreach (var code in Headline)
        {
            var indicator = catalogue.FindIndicator(code)!.Indicator;
            if (indicator.Aggregation != Mirps.Catalog.V1.AggregationRule.Sum)
            {
                table.AddRow(Markup.Escape(indicator.Name.En), "n/a", Markup.Escape($"not additive: no regional total (see each State). {indicator.NotAdditiveReason?.En}".TrimEnd()));
                continue;
            }
            var response = await regional.GetRegionalValueAsync(new GetRegionalValueRequest { IndicatorCode = code, Period = period }, cancellationToken: cancellationToken);
            var cell = response.Cells.Single();
            table.AddRow(Markup.Escape(indicator.Name.En), Markup.Escape(RegionalText.Value(cell)), Markup.Escape(RegionalText.Coverage(cell, response.PendingChanges)));
        }
        var rates = await regional.GetProtectionRatesAsync(new GetProtectionRatesRequest { Period = period }, cancellationToken: cancellationToken);
        table.AddRow("Refugee recognition rate (recognized / substantive decisions)", Markup.Escape(RegionalText.Rate(rates.RecognitionRate)), Markup.Escape(RegionalText.Coverage(rates.RecognitionRate, rates.PendingChanges)));
        table.AddRow("Total protection rate ((recognized + complementary) / substantive decisions)", Markup.Escape(RegionalText.Rate(rates.TotalProtectionRate)), Markup.Escape(RegionalText.Coverage(rates.TotalProtectionRate, rates.PendingChanges)));
        console.Write(table);
        foreach (var line in RegionalText.Pending(rates.PendingChanges))
        {
            console.MarkupLine(Markup.Escape(line));
        }
        console.MarkupLine(Markup.Escape(RegionalText.Catalogues(rates.ReportingCatalogs)));
    }

    /// <summary>Who reported each headline indicator for the period: reported, provisional or missing, State by State.</summary>
    private static async Task PrintCompletenessAsync(IAnsiConsole console, List<string> states, GrpcChannel channel, string period, CancellationToken cancellationToken)
    {
        var granularity = Period.TryParse(period, out var parsed) ? parsed.Granularity : Mirps.Catalog.V1.PeriodGranularity.Year;
        var request = new GetCompletenessRequest { PeriodFrom = period, PeriodTo = period, Granularity = granularity };
        request.IndicatorCodes.Add(Headline);
        var response = await new RegionalService.RegionalServiceClient(channel).GetCompletenessAsync(request, cancellationToken: cancellationToken);
        var table = new Table().Title($"Completeness for {period} (✓ reported, p provisional, - missing)");
        table.AddColumn("Indicator");
        foreach (var state in states)
        {
            table.AddColumn(new TableColumn(state).Centered());
        }
        foreach (var code in Headline)
        {
            var byState = response.Cells.Where(c => c.IndicatorCode == code).ToDictionary(c => c.Country, c => c.State);
            table.AddRow([code, .. states.Select(s => RegionalText.Mark(byState.GetValueOrDefault(s)))]);
        }
        console.Write(table);
    }
}
