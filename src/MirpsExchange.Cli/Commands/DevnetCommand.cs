using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Mirps.Auth;
using MirpsExchange.Cli.Federation;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using Spectre.Console;

namespace MirpsExchange.Cli.Commands;

/// <summary>
/// <c>mirps devnet</c>: the local federation on this machine. The identity server and one node process per
/// MIRPS State on loopback, with their SQLite stores under one folder; every credential is issued through
/// the identity server's CredentialService with the bootstrap admin credential; each State submits its
/// sample data with its own credential; the Secretariat's credential reads the figures back from every
/// node into a table. The Secretariat process and node-to-node sync join it as they are built.
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
        var command = new Command("devnet", "Start the local federation (a node per MIRPS State on loopback), load the sample data and print it") { folder, once, reset, period };
        command.SetAction((parse, cancellationToken) => RunAsync(
            parse.GetRequiredValue(folder), parse.GetValue(once), parse.GetValue(reset), parse.GetRequiredValue(period),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, cancellationToken));
        return command;
    }

    public static async Task<int> RunAsync(DirectoryInfo folder, bool once, bool reset, string period, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var console = CommonOptions.Console(output, minimumWidth: 140);
        var catalogue = StandardCatalogue.LoadStandard();
        var states = catalogue.Catalog.Codelists.Single(c => c.Id == StandardCatalogue.ReportingCountryCodelist).Codes.Select(c => c.Id).ToList();
        if (reset && folder.Exists)
        {
            folder.Delete(recursive: true);
        }
        folder.Create();

        var nodes = new List<(string Country, ServiceProcess Process)>();
        ServiceProcess? identity = null;
        using var http = new HttpClient();
        try
        {
            console.MarkupLine($"[bold]MirpsExchange local federation[/] in {Markup.Escape(folder.FullName)}");
            identity = ServiceProcess.Identity(Path.Combine(folder.FullName, "identity"));
            await identity.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), cancellationToken);
            var issuer = new Uri(identity.Addresses[0].TrimEnd('/') + "/");
            console.MarkupLine($"  identity server: issuer {issuer}, admin API {identity.Addresses[1]}");
            var credentials = await DevnetCredentials.EnsureAsync(http, folder.FullName, issuer, new Uri(identity.Addresses[1]), states, cancellationToken);

            foreach (var state in states)
            {
                nodes.Add((state, ServiceProcess.Node(state, Path.Combine(folder.FullName, state), issuer.ToString())));
            }
            foreach (var (country, node) in nodes)
            {
                await node.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), cancellationToken);
                console.MarkupLine($"  node {country} listening on {node.Address}");
            }

            foreach (var (country, node) in nodes)
            {
                var sample = new FileInfo(Path.Combine(AppContext.BaseDirectory, "Samples", $"{country}.csv"));
                var log = new StringWriter();
                var code = await SubmitCommand.RunAsync(sample, new Uri(node.Address), issuer, credentials[country], 10_000, dryRun: false, log, log, cancellationToken);
                console.WriteLine($"  {log.ToString().Trim()}");
                if (code != CliApp.Ok)
                {
                    await error.WriteLineAsync($"error: loading the sample data of {country} failed: {log.ToString().Trim()}");
                    return code;
                }
            }

            using var secretariat = new TokenClient(http, CommonOptions.TokenEndpoint(issuer), credentials[""], MirpsAuth.ReadScope);
            if (!await PrintTableAsync(console, catalogue, nodes, secretariat, period, error, cancellationToken))
            {
                return CliApp.Failed;
            }

            if (once)
            {
                return CliApp.Ok;
            }
            console.MarkupLine("Running. Press [bold]Ctrl+C[/] to stop every node.");
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
            foreach (var (_, node) in nodes)
            {
                node.Dispose();
            }
            identity?.Dispose();
        }
    }

    /// <summary>Reads the figures back from every node and prints them; false (after a one-line error) when a node fails to answer.</summary>
    private static async Task<bool> PrintTableAsync(IAnsiConsole console, StandardCatalogue catalogue, List<(string Country, ServiceProcess Process)> nodes,
        TokenClient reader, string period, TextWriter error, CancellationToken cancellationToken)
    {
        var table = new Table().Title($"Totals for {period} as held by each State's node (e = estimated, p = provisional, c = confidential)");
        table.AddColumn("Indicator");
        foreach (var node in nodes)
        {
            table.AddColumn(new TableColumn(node.Country).RightAligned());
        }
        var cells = new Dictionary<(string Indicator, string Country), string>();
        foreach (var (country, node) in nodes)
        {
            try
            {
                await ReadTotalsAsync(country, new Uri(node.Address), reader, period, cells, cancellationToken);
            }
            catch (Exception e) when (e is RpcException or HttpRequestException)
            {
                var reason = e is RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : e.Message;
                await error.WriteLineAsync($"error: reading the {period} figures from the node of {country} at {node.Address} failed ({reason.ReplaceLineEndings(" ")})");
                return false;
            }
        }
        foreach (var code in Headline)
        {
            var name = catalogue.FindIndicator(code)!.Indicator.Name.En;
            table.AddRow([Markup.Escape(name), .. nodes.Select(n => cells.TryGetValue((code, n.Country), out var v) ? v : "-")]);
        }
        console.Write(table);
        return true;
    }

    private static async Task ReadTotalsAsync(string country, Uri node, TokenClient reader, string period, Dictionary<(string Indicator, string Country), string> cells, CancellationToken cancellationToken)
    {
        using var channel = CommonOptions.AuthenticatedChannel(node, reader);
        var client = new ObservationService.ObservationServiceClient(channel);
        var request = new StreamObservationsRequest { Countries = { country }, PeriodFrom = period, PeriodTo = period };
        request.IndicatorCodes.Add(Headline);
        using var call = client.StreamObservations(request, cancellationToken: cancellationToken);
        while (await call.ResponseStream.MoveNext(cancellationToken))
        {
            foreach (var stored in call.ResponseStream.Current.Observations)
            {
                var o = stored.Observation;
                if (o.Period == period && o.Sex is "" or "_T" && o.Age is "" or "_T" && o.CountryOfOrigin is "" or "_T")
                {
                    cells[(o.IndicatorCode, o.Country)] = Format(o);
                }
            }
        }
    }

    private static string Format(Observation o)
    {
        var flag = o.Status switch
        {
            ObservationStatus.Estimated => " e",
            ObservationStatus.Provisional => " p",
            ObservationStatus.Confidential => " c",
            _ => "",
        };
        return o.Value.ToString("#,0.#", CultureInfo.InvariantCulture) + flag;
    }
}
