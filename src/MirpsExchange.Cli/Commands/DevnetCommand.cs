using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Grpc.Net.Client;
using MirpsExchange.Cli.Federation;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using Spectre.Console;

namespace MirpsExchange.Cli.Commands;

/// <summary>
/// <c>mirps devnet</c>: the local federation on this machine. For now: one node process per MIRPS State
/// on loopback with its SQLite store under one folder, each loaded with its State's sample data, then a
/// table of the 2023 figures read back from every node. The identity server and the Secretariat join
/// it as they are built.
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
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        console.Profile.Width = Math.Max(console.Profile.Width, 140);
        var catalogue = StandardCatalogue.LoadStandard();
        var states = catalogue.Catalog.Codelists.Single(c => c.Id == StandardCatalogue.ReportingCountryCodelist).Codes.Select(c => c.Id).ToList();
        if (reset && folder.Exists)
        {
            folder.Delete(recursive: true);
        }
        folder.Create();

        var nodes = new List<NodeProcess>();
        try
        {
            console.MarkupLine($"[bold]MirpsExchange local federation[/] in {Markup.Escape(folder.FullName)}");
            foreach (var state in states)
            {
                nodes.Add(NodeProcess.Start(state, Path.Combine(folder.FullName, state)));
            }
            foreach (var node in nodes)
            {
                await node.WaitUntilListeningAsync(TimeSpan.FromSeconds(60), cancellationToken);
                console.MarkupLine($"  node {node.Country} listening on {node.Address}");
            }

            foreach (var node in nodes)
            {
                var sample = new FileInfo(Path.Combine(AppContext.BaseDirectory, "Samples", $"{node.Country}.csv"));
                var log = new StringWriter();
                var code = await SubmitCommand.RunAsync(sample, new Uri(node.Address), 10_000, dryRun: false, log, log, cancellationToken);
                console.WriteLine($"  {log.ToString().Trim()}");
                if (code != CliApp.Ok)
                {
                    await error.WriteLineAsync($"error: loading the sample data of {node.Country} failed");
                    return code;
                }
            }

            await PrintTableAsync(console, catalogue, nodes, period, cancellationToken);

            if (once)
            {
                return CliApp.Ok;
            }
            console.MarkupLine("Running. Press [bold]Ctrl+C[/] to stop every node.");
            await Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => { }, CancellationToken.None);
            return CliApp.Ok;
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            return CliApp.Failed;
        }
        finally
        {
            foreach (var node in nodes)
            {
                node.Dispose();
            }
        }
    }

    private static async Task PrintTableAsync(IAnsiConsole console, StandardCatalogue catalogue, List<NodeProcess> nodes, string period, CancellationToken cancellationToken)
    {
        var table = new Table().Title($"Totals for {period} as held by each State's node (e = estimated, p = provisional, c = confidential)");
        table.AddColumn("Indicator");
        foreach (var node in nodes)
        {
            table.AddColumn(new TableColumn(node.Country).RightAligned());
        }
        var cells = new Dictionary<(string Indicator, string Country), string>();
        foreach (var node in nodes)
        {
            using var channel = GrpcChannel.ForAddress(node.Address);
            var client = new ObservationService.ObservationServiceClient(channel);
            var request = new StreamObservationsRequest { Countries = { node.Country }, PeriodFrom = period, PeriodTo = period };
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
        foreach (var code in Headline)
        {
            var name = catalogue.FindIndicator(code)!.Indicator.Name.En;
            table.AddRow([Markup.Escape(name), .. nodes.Select(n => cells.TryGetValue((code, n.Country), out var v) ? v : "-")]);
        }
        console.Write(table);
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
