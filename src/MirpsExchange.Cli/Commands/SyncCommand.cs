using System.CommandLine;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Mirps.Sync.V1;
using Spectre.Console;

namespace MirpsExchange.Cli.Commands;

/// <summary>
/// <c>mirps sync status --node ADDRESS</c>: SyncService.GetSyncStatus printed for people, with an exit code
/// of its own when a pull from a peer is failing or stopped, so a scheduled script can alert on it.
/// </summary>
public static class SyncCommand
{
    /// <summary>The node answered, and at least one of its pulls from a peer is failing or stopped.</summary>
    public const int PeerUnhealthy = 3;

    /// <summary>The status command's help text, exit codes included.</summary>
    public const string StatusDescription =
        "Show what a node holds (per origin State: the latest change sequence and when it came) and how its pulls from "
        + "other nodes are doing (per peer: connecting, connected, failing or stopped, the sequence applied, the sequence the peer "
        + "holds, how far behind the pull is in changes and in seconds since the oldest change not yet applied was recorded, the last error; "
        + "shown only to the node's own State and the Secretariat). "
        + "Exit codes: 0 the node answered and no pull is failing or stopped. 2 no token (missing credential file, wrong secret), "
        + "node unreachable, or another failure. 3 the node answered but a pull from a peer is failing or stopped: "
        + "each one is named on the error output.";

    private const string TimeFormat = "yyyy-MM-dd HH:mm:ss'Z'";

    public static Command Create() => new("sync", "Node-to-node sync: see how a node's change logs and pulls from its peers stand") { Status() };

    private static Command Status()
    {
        var reader = new NodeReader();
        var command = new Command("status", StatusDescription);
        foreach (var option in reader.Options)
        {
            command.Options.Add(option);
        }
        command.SetAction((parse, cancellationToken) => reader.RunAsync(parse, async (node, channel) =>
        {
            var status = await new SyncService.SyncServiceClient(channel)
                .GetSyncStatusAsync(new GetSyncStatusRequest(), deadline: DateTime.UtcNow.Add(NodeReader.CallTimeout), cancellationToken: cancellationToken);
            return await PrintAsync(node, status, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error);
        }, field => field, cancellationToken));
        return command;
    }

    private static async Task<int> PrintAsync(Uri node, GetSyncStatusResponse status, TextWriter output, TextWriter error)
    {
        var console = CommonOptions.Console(output, minimumWidth: 140);
        var owner = status.NodeCountry.Length > 0 ? $"the node of {status.NodeCountry}" : "the Secretariat's node";
        await output.WriteLineAsync($"{owner} at {node}: catalogue {status.CatalogVersion} (digest {status.CatalogDigest})");
        if (status.WriteRefusal.Length > 0)
        {
            // A restored store waiting for a quorum to prove its log's head, a node recovering its log (README, "Backup and recovery"),
            // or a PostgreSQL node that lost its store's lock (STORE_LOCK_LOST).
            await output.WriteLineAsync($"It refuses {status.NodeCountry}'s writes: {status.WriteRefusal}");
        }

        if (status.Origins.Count == 0)
        {
            await output.WriteLineAsync("It holds no changes yet.");
        }
        else
        {
            // Headings as plain lines, not table titles: a title is styled, and the styles would reach a file or a pipe as escape codes.
            await output.WriteLineAsync("Change logs held, per origin State:");
            var origins = new Table();
            origins.AddColumn("Origin");
            origins.AddColumn(new TableColumn("Latest sequence").RightAligned());
            origins.AddColumn("Last change (UTC)");
            foreach (var origin in status.Origins)
            {
                origins.AddRow(Markup.Escape(origin.Origin), origin.LatestSequence.ToString(CultureInfo.InvariantCulture), Format(origin.LastChangeTime));
            }
            console.Write(origins);
        }

        if (status.PeersWithheld)
        {
            await output.WriteLineAsync($"Pulls from peers: not shown to this credential (only to {(status.NodeCountry.Length > 0 ? status.NodeCountry + " and " : "")}the Secretariat).");
            return CliApp.Ok;
        }
        if (status.Peers.Count == 0)
        {
            await output.WriteLineAsync("No peers configured: this node pulls from no other node.");
            return CliApp.Ok;
        }
        await output.WriteLineAsync("Pulls from peers:");
        var peers = new Table();
        peers.AddColumn("Peer");
        peers.AddColumn("Origin");
        peers.AddColumn("State");
        peers.AddColumn(new TableColumn("Applied sequence").RightAligned());
        peers.AddColumn(new TableColumn("Peer holds").RightAligned());
        peers.AddColumn(new TableColumn("Behind").RightAligned());
        peers.AddColumn("Last change (UTC)");
        peers.AddColumn("Last error");
        foreach (var peer in status.Peers)
        {
            peers.AddRow([.. new[]
            {
                peer.Address, peer.Origin, StateName(peer.State), peer.AppliedSequence.ToString(CultureInfo.InvariantCulture),
                peer.PeerSequence.ToString(CultureInfo.InvariantCulture), Behind(peer),
                Format(peer.LastChangeTime), peer.LastError.Length > 0 ? peer.LastError : "-",
            }.Select(Markup.Escape)]);
        }
        console.Write(peers);

        var unhealthy = status.Peers.Where(p => p.State is PeerState.Failing or PeerState.Stopped).ToList();
        foreach (var peer in unhealthy)
        {
            await error.WriteLineAsync($"error: the pull of {peer.Origin} from {peer.Address} is {StateName(peer.State)}: {NodeReader.OneLine(peer.LastError)}");
        }
        return unhealthy.Count > 0 ? PeerUnhealthy : CliApp.Ok;
    }

    /// <summary>"0", or "12 changes, 4 s" (how many changes the peer holds that are not here, and how long the oldest has waited).</summary>
    private static string Behind(PeerStatus peer) => peer.SequencesBehind == 0
        ? "0"
        : string.Create(CultureInfo.InvariantCulture, $"{peer.SequencesBehind} changes, {Math.Floor((peer.TimeBehind?.ToTimeSpan() ?? TimeSpan.Zero).TotalSeconds)} s");

    private static string StateName(PeerState state) => state switch
    {
        PeerState.Connecting => "connecting",
        PeerState.Connected => "connected",
        PeerState.Failing => "failing",
        PeerState.Stopped => "stopped",
        _ => "unknown",
    };

    private static string Format(Timestamp? time) =>
        time is null ? "-" : time.ToDateTimeOffset().ToString(TimeFormat, CultureInfo.InvariantCulture);
}
