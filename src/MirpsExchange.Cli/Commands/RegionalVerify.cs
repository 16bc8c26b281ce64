using System.CommandLine;
using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Mirps.Auth;
using Mirps.Log;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using Mirps.Sync.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Exports;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Node.Approval;
using MirpsExchange.Node.Extensions;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;
using MirpsExchange.Node.Sync;
using MirpsExchange.Secretariat.Regional;
using MirpsExchange.Web.Secretariat;

namespace MirpsExchange.Cli.Commands;

/// <summary>
/// <c>mirps regional verify EXPORT --node ADDRESS</c>: checks that every figure of a regional export follows
/// from the States' signed change logs up to the heads its provenance (<see cref="ExportProvenance"/>, beside
/// the file) names. Each State's log is read from the node (SyncService.StreamChanges) and checked by the
/// replica's own <see cref="ChainVerifier"/> against the log keys the identity server publishes in its signed
/// revocation list (verified with <see cref="RevocationList"/>, as a node does); the named head must verify
/// too, over the very chain computed. The figures are then computed again by the Secretariat's own code
/// (<see cref="RegionalIndicators"/>) over a temporary store holding exactly those changes, and written as the
/// export writes them, row by row.
/// </summary>
internal static class RegionalVerify
{
    private const string Exits = " Exit codes: 0 every figure follows from the signed logs; 1 a figure does not, or a head or a log does not verify, or the export " +
        "is not in the form its writer writes (a download's zip holding anything but the file and its provenance, an edited xlsx or CSV cell; the first is named); " +
        "2 the export could not be opened, or the node or the identity server could not be read.";

    /// <summary>Protobuf JSON of the provenance sidecar, with field names as the schema spells them.</summary>
    public static readonly JsonFormatter Json = new(JsonFormatter.Settings.Default.WithIndentation().WithPreserveProtoFieldNames(true));

    /// <summary>A little more than the identity server's list may be served from its cache (Identity's RevocationList.MaxAge).</summary>
    private static readonly TimeSpan ListMaxAge = TimeSpan.FromSeconds(1.2);

    /// <summary>Where an export's provenance is written: beside it, <c>FILE.provenance.json</c>.</summary>
    public static string ProvenanceFile(string export) => export + ".provenance.json";

    public static Command Create()
    {
        var reader = new NodeReader();
        var export = new Argument<FileInfo>("export") { Description = "A regional export written by `mirps regional export --out FILE` (CSV or SDMX-CSV), or a web download's zip (CSV, SDMX-CSV or xlsx; the regional and chart pages)" };
        var provenanceOption = new Option<FileInfo?>("--provenance") { Description = "Its provenance (default: EXPORT.provenance.json)" };
        var command = new Command("verify", "Check that every figure of a regional export follows from the States' signed change logs up to the log heads its " +
            "provenance names: each log is read from --node (the Secretariat's node, or a State's node, with a credential that may read every change counted), " +
            "its chain and signatures checked with the log keys the identity server publishes, and every figure computed again." + Exits)
        { export, provenanceOption };
        foreach (var option in reader.Options)
        {
            command.Options.Add(option);
        }
        command.SetAction(async (parse, cancellationToken) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var file = parse.GetRequiredValue(export);
            List<(ExportRow Row, string Place)> rows;
            List<(CompletenessCell Cell, string Place)>? cells;
            ExportProvenance provenance;
            try
            {
                (rows, cells, provenance) = await ReadExportAsync(file.FullName, parse.GetValue(provenanceOption)?.FullName, cancellationToken);
            }
            catch (Exception e) when (e is ExportFormatException or InvalidProtocolBufferException or InvalidJsonException or InvalidDataException)
            {
                // Read, and not in the form the writer writes (a zip with another entry, a forged xlsx, a CSV cell in another form): a verdict, as a figure's.
                await error.WriteLineAsync($"does not verify: {NodeReader.OneLine(e.Message)}");
                return CliApp.Refused;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                await error.WriteLineAsync($"error: {NodeReader.OneLine(e.Message)}");
                return CliApp.Failed;
            }

            return await reader.RunAsync(parse, async (node, channel, token) =>
            {
                if (ReaderOf(token) is not { } self)
                {
                    await error.WriteLineAsync("error: the access token names neither a State nor the Secretariat, so what the node may withhold from it is not known");
                    return CliApp.Failed;
                }
                var address = $"the node at {node}";
                PublishedLogKeys keys;
                try
                {
                    keys = await PublishedKeysAsync(parse, reader, cancellationToken);
                }
                catch (Exception e) when (e is HttpRequestException or JsonException or InvalidDataException or IOException
                    || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
                {
                    await error.WriteLineAsync($"error: the identity server's published log keys could not be read: {NodeReader.OneLine(e.Message)}");
                    return CliApp.Failed;
                }

                var logs = new Dictionary<string, List<StoredObservation>>(StringComparer.Ordinal);
                // Each verified change log's links and key rotations: what a State's lifecycle entries are checked against (anchor, rotated-away key).
                var anchors = new Dictionary<string, ChangeLogAnchors>(StringComparer.Ordinal);
                // The keys each State's verified change log handed over by KEY_ROTATION heads, and from: its lifecycle entries are checked with them, as a replica's.
                var handovers = new Dictionary<string, (Dictionary<string, System.Security.Cryptography.ECDsa> HandedOver, Dictionary<string, long> RotatedAway)>(StringComparer.Ordinal);
                var refetched = false;
                foreach (var head in provenance.LogHeads)
                {
                    if (logs.ContainsKey(head.Origin))
                    {
                        await error.WriteLineAsync($"does not verify: the provenance names two heads of {head.Origin}'s log");
                        return CliApp.Refused;
                    }
                    var handover = handovers[head.Origin] = ([], []);
                    try
                    {
                        try
                        {
                            (logs[head.Origin], anchors[head.Origin]) = await SignedLogAsync(new SyncService.SyncServiceClient(channel), head, keys, handover, self, address, cancellationToken);
                        }
                        catch (PeerRefusedException e) when (e.Reason == ReplicaRules.UnknownSigningKey && !refetched)
                        {
                            // A key registered a moment ago: the identity server builds its list at most once a second.
                            refetched = true;
                            await Task.Delay(ListMaxAge, cancellationToken);
                            keys = await PublishedKeysAsync(parse, reader, cancellationToken);
                            (logs[head.Origin], anchors[head.Origin]) = await SignedLogAsync(new SyncService.SyncServiceClient(channel), head, keys, handover, self, address, cancellationToken);
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or JsonException or InvalidDataException)
                    {
                        await error.WriteLineAsync($"error: the identity server's published log keys could not be read: {NodeReader.OneLine(e.Message)}");
                        return CliApp.Failed;
                    }
                    catch (PeerRefusedException e)
                    {
                        await error.WriteLineAsync($"does not verify: {head.Origin}'s log up to the head at change {head.Sequence}: {e.Error}");
                        return CliApp.Refused;
                    }
                }

                if (await UnnamedOriginAsync(new SyncService.SyncServiceClient(channel), provenance, cancellationToken) is { } unnamed)
                {
                    await error.WriteLineAsync($"does not verify: {unnamed}");
                    return CliApp.Refused;
                }

                // The States' lifecycle logs and the Secretariat's decision log (origin "secretariat"), each up to the head named; of the
                // decision log also what the node holds beyond it, verified the same way, only to say when an acceptance claimed came later.
                var lifecycle = new Dictionary<string, List<Mirps.Observation.V1.LifecycleEntry>>(StringComparer.Ordinal);
                List<Mirps.Observation.V1.LifecycleEntry> laterDecisions = [];
                foreach (var head in provenance.LifecycleHeads)
                {
                    if (lifecycle.ContainsKey(head.Origin))
                    {
                        await error.WriteLineAsync($"does not verify: the provenance names two heads of {head.Origin}'s lifecycle log");
                        return CliApp.Refused;
                    }
                    try
                    {
                        var decisions = head.Origin == MirpsAuth.Secretariat;
                        var (upToHead, beyond) = await SignedLifecycleAsync(new Mirps.Approval.V1.ApprovalService.ApprovalServiceClient(channel), head, keys,
                            handovers.GetValueOrDefault(head.Origin, ([], [])), anchors.GetValueOrDefault(head.Origin), decisions, cancellationToken);
                        lifecycle[head.Origin] = upToHead;
                        laterDecisions = decisions ? beyond : laterDecisions;
                        if (decisions && DecisionHeadOutOfPlace(head, upToHead, beyond, provenance.AsOfTime) is { } misplaced)
                        {
                            await error.WriteLineAsync($"does not verify: {misplaced}");
                            return CliApp.Refused;
                        }
                    }
                    catch (PeerRefusedException e)
                    {
                        await error.WriteLineAsync($"does not verify: {head.Origin}'s lifecycle log up to entry {head.EntrySequence}: {e.Error}");
                        return CliApp.Refused;
                    }
                }
                if (UnsignedAcceptance(provenance, lifecycle, laterDecisions) is { } acceptance)
                {
                    await error.WriteLineAsync($"does not verify: {acceptance}");
                    return CliApp.Refused;
                }

                if (cells is not null)
                {
                    // The completeness download: every cell's reporting state computed again over exactly the logs read.
                    var periods = new List<Period>();
                    foreach (var named in provenance.Periods)
                    {
                        if (!Period.TryParse(named, out var parsed))
                        {
                            await error.WriteLineAsync($"error: the provenance names '{NodeReader.OneLine(named)}', which is not a period");
                            return CliApp.Failed;
                        }
                        periods.Add(parsed);
                    }
                    var completeness = await ScratchAsync(logs, lifecycle, (indicators, _, _) =>
                        indicators.GetCompletenessAsync([.. provenance.IndicatorCodes], periods, null, cancellationToken), cancellationToken);
                    if (CellDifference(cells, completeness.Cells) is { } cellDifference)
                    {
                        await error.WriteLineAsync($"does not verify: {cellDifference}");
                        return CliApp.Refused;
                    }
                    await parse.InvocationConfiguration.Output.WriteLineAsync(
                        $"verified: {cells.Count:N0} completeness cells follow from the signed logs of {string.Join(" ", provenance.LogHeads.Select(h => $"{h.Origin}@{h.Sequence}"))} " +
                        $"as of {provenance.AsOfTime?.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture)}");
                    return CliApp.Ok;
                }

                // A chart page's download also holds each State's rows: each is checked against that State's signed log, as the reader is served it.
                var regionalRows = rows.Where(r => r.Row.ReferenceArea == ExportRow.RegionalAggregate).ToList();
                var stateRows = rows.Where(r => r.Row.ReferenceArea != ExportRow.RegionalAggregate).ToList();
                var chart = stateRows.Count > 0;
                if (chart && (provenance.IndicatorCodes.Count != 1 || provenance.Rates || provenance.Breakdown != Breakdown.Unspecified || provenance.Lifecycle != LifecycleFilter.Unspecified))
                {
                    await error.WriteLineAsync($"does not verify: {stateRows[0].Place}: a row of {stateRows[0].Row.ReferenceArea} in a regional export; only a chart's download " +
                        "(one indicator, no breakdown, rates or lifecycle filter) holds States' rows");
                    return CliApp.Refused;
                }
                // A State's drill-down holds that State's rows only; the regional chart's, every State's totals and the regional rows.
                var drillDown = chart && regionalRows.Count == 0 && stateRows.Select(r => r.Row.ReferenceArea).Distinct().Count() == 1 ? stateRows[0].Row.ReferenceArea : null;
                if (chart && StateRowDifference(stateRows, logs, provenance, drillDown) is { } stateDifference)
                {
                    await error.WriteLineAsync($"does not verify: {stateDifference}");
                    return CliApp.Refused;
                }
                var (expected, derived) = await RecomputeAsync(logs, lifecycle, provenance, chart, cancellationToken);
                if (FirstDifference(regionalRows, drillDown is null ? expected : []) is { } difference)
                {
                    await error.WriteLineAsync($"does not verify: {difference}");
                    return CliApp.Refused;
                }
                if (derived.Acceptances.FirstOrDefault(a => !provenance.Acceptances.Contains(a)) is { } unlisted)
                {
                    await error.WriteLineAsync($"does not verify: the provenance leaves out the Secretariat's acceptance of {unlisted.Country}'s {unlisted.GroupId} " +
                        $"{unlisted.Period} (its approval at entry {unlisted.EntrySequence}), which the figures rest on by the Secretariat's signed decision log");
                    return CliApp.Refused;
                }
                await parse.InvocationConfiguration.Output.WriteLineAsync(
                    $"verified: {rows.Count:N0} figures follow from the signed logs of {string.Join(" ", provenance.LogHeads.Select(h => $"{h.Origin}@{h.Sequence}"))} " +
                    $"as of {provenance.AsOfTime?.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture)}");
                // A partial verification shows: what the signed policies withhold from this reader is not counted (as at the Secretariat).
                var read = logs.Values.Sum(log => log.Count);
                var withheld = logs.Values.Sum(log => log.Count(c => c.Withholding != Withholding.Unspecified));
                await parse.InvocationConfiguration.Output.WriteLineAsync(
                    $"withheld from {self}: {withheld:N0} of the {read:N0} changes read, as their signed sharing policies allow (not counted)");
                return CliApp.Ok;
            }, field => field, cancellationToken);
        });
        return command;
    }

    /// <summary>
    /// The log-signing keys in the identity server's revocation list, taken only when the list verifies against
    /// the server's JWKS (<see cref="RevocationList.TryApplyAsync"/>, as every node takes it).
    /// </summary>
    private static async Task<PublishedLogKeys> PublishedKeysAsync(ParseResult parse, NodeReader reader, CancellationToken cancellationToken)
    {
        var issuer = parse.GetRequiredValue(reader.Identity);
        using var tls = CommonOptions.LoadTls(parse, reader.Ca, reader.ClientCertificate, reader.ClientKey);
        using var http = CommonOptions.HttpClient(tls);
        http.Timeout = NodeReader.CallTimeout;
        using var discovery = JsonDocument.Parse(await http.GetStringAsync(new Uri(issuer, ".well-known/openid-configuration"), cancellationToken));
        var jwksUri = discovery.RootElement.TryGetProperty("jwks_uri", out var uri) && uri.GetString() is { } text ? new Uri(text) : new Uri(issuer, ".well-known/jwks");
        var jwks = new JsonWebKeySet(await http.GetStringAsync(jwksUri, cancellationToken));
        var jwt = await http.GetStringAsync(new Uri(issuer, RevocationListFormat.Path), cancellationToken);
        var list = new RevocationList();
        if (await list.TryApplyAsync(jwt, issuer.AbsoluteUri, jwks.GetSigningKeys()) is { } refused)
        {
            throw new InvalidDataException($"the revocation list at {new Uri(issuer, RevocationListFormat.Path)} was refused: {refused}");
        }
        return new PublishedLogKeys(list);
    }

    /// <summary>
    /// <paramref name="head"/>'s origin's changes up to it, read from the node and checked by a <see cref="ChainVerifier"/>
    /// from the log's first change: the head itself is handed to the verifier with the message that holds its change,
    /// so its signature and its hash are checked like the node's own heads. Every change withheld from <paramref name="self"/>
    /// (a placeholder, a small count) must be one the change's signed policy keeps from it now (the replica's rule,
    /// <see cref="ReplicaRules.CheckWithheldByPolicy"/>, with nothing asked for again): otherwise a node could drop any
    /// change from the figures, or make a key's older revision count as current. Throws <see cref="PeerRefusedException"/>
    /// when anything does not verify, or the node does not hold the log that far.
    /// </summary>
    private static async Task<(List<StoredObservation> Changes, ChangeLogAnchors Anchors)> SignedLogAsync(SyncService.SyncServiceClient sync, LogHead head, PublishedLogKeys keys,
        (Dictionary<string, System.Security.Cryptography.ECDsa> HandedOver, Dictionary<string, long> RotatedAway) handover, Reader self, string address,
        CancellationToken cancellationToken)
    {
        var verifier = new ChainVerifier(head.Origin, 0, [], 0, keys, () => StoreTime.ToMicros(DateTimeOffset.UtcNow), handover.HandedOver, handover.RotatedAway);
        var changes = new List<StoredObservation>();
        var links = new List<byte[]>();
        var rotations = new List<LifecycleRules.Rotation>();
        if (head.Sequence <= 0)
        {
            throw new PeerRefusedException(ReplicaRules.ChainBroken, $"the head names change {head.Sequence}, which no log has");
        }
        // Every complementary-suppression method this software knows: the verifier checks the chain and the policies, not the complements.
        using var call = sync.StreamChanges(
            new StreamChangesRequest { Origin = head.Origin, BatchSize = 1000, SuppressionMethods = { MirpsExchange.Node.Sharing.SuppressionMethods.InSoftware } },
            cancellationToken: cancellationToken);
        var last = 0L;
        while (last < head.Sequence && await call.ResponseStream.MoveNext(cancellationToken))
        {
            var message = call.ResponseStream.Current;
            if (message.Changes.Any(c => c.OriginSequence == head.Sequence))
            {
                var heads = message.Heads.Append(head.Clone()).OrderBy(h => h.Sequence).ToList();
                message.Heads.Clear();
                message.Heads.Add(heads);
            }
            var verified = verifier.Accept(message);
            var released = verified.Changes;
            ReplicaRules.CheckWithheldByPolicy(released.Where(c => c.OriginSequence <= head.Sequence), self, address, finalAt: StoreTime.ToMicros(DateTimeOffset.UtcNow));
            for (var i = 0; i < released.Count; i++)
            {
                if (released[i].OriginSequence <= head.Sequence)
                {
                    changes.Add(released[i]);
                    links.Add(verified.Hashes.AsSpan(i * ChangeHash.Size, ChangeHash.Size).ToArray());
                    last = released[i].OriginSequence;
                }
            }
            rotations.AddRange(verified.Heads.Where(h => h.Kind == LogHeadKind.KeyRotation && h.Sequence <= head.Sequence).Select(LifecycleRules.Rotation.Of));
        }
        if (last < head.Sequence)
        {
            throw new PeerRefusedException(ReplicaRules.ChainBroken,
                $"the node holds {head.Origin}'s signed log only up to change {last}, not up to the head's change {head.Sequence}");
        }
        return (changes, new ChangeLogAnchors(changes, links, rotations));
    }

    /// <summary>
    /// What a verified change log (from change 1 up to the export's head) gives the checks of its origin's lifecycle entries, as a replica's
    /// store gives them (<see cref="LifecycleLog.VerifyAsync"/>): each change's recorded time and link (an approval's anchor), and the key
    /// rotations its verified heads record (<see cref="LifecycleRules.RequireNotRotatedAway"/>).
    /// </summary>
    private sealed record ChangeLogAnchors(List<StoredObservation> Changes, List<byte[]> Links, List<LifecycleRules.Rotation> Rotations)
    {
        /// <summary>
        /// Checks a State's <paramref name="entry"/>, recorded at <paramref name="micros"/> after an entry signed with <paramref name="previousKey"/>,
        /// against this log as a replica does: not signed with a key rotated away before it, and anchored to this log's change as it is (its link
        /// and recorded time). An anchor beyond the change log the export names is refused: the export took both heads together, and an approval
        /// never comes before the changes it approves.
        /// </summary>
        public void Check(Mirps.Observation.V1.LifecycleEntry entry, string origin, long micros, string previousKey)
        {
            LifecycleRules.RequireNotRotatedAway(entry, micros, previousKey, Rotations);
            if (entry.LogSequence > Changes.Count)
            {
                throw new PeerRefusedException(ReplicaRules.ChainBroken,
                    $"{origin}'s lifecycle entry {entry.EntrySequence} approves {origin}'s log at change {entry.LogSequence}, beyond the head the export names (change {Changes.Count})");
            }
            if (entry.LogSequence > 0)
            {
                var change = (int)entry.LogSequence - 1;
                LifecycleRules.CheckAnchored(entry, origin, micros, ChangeHash.Micros(Changes[change].RecordedTime), Links[change]);
            }
        }
    }

    /// <summary>
    /// The reader the node serves for <paramref name="token"/>, read as the node reads it (<see cref="Reader.FromCaller"/>):
    /// the token is the one the identity server (--identity) just issued to this command, so its claims are the
    /// server's word; the node checks its signature.
    /// </summary>
    private static Reader? ReaderOf(string token)
    {
        try
        {
            return Reader.FromCaller(new ClaimsPrincipal(new ClaimsIdentity(new JsonWebToken(token).Claims)));
        }
        catch (ArgumentException)
        {
            return null; // not a JWT (SecurityTokenMalformedException is one)
        }
    }

    /// <summary>
    /// A State whose log the node holds but the provenance names no head of, described; null when there is none. The
    /// Secretariat names a head for every State it had received anything of by the answer's as-of time (protos/README.md):
    /// a State left out is one whose changes were all received after the export's as-of time, which the received time
    /// of the node's first change of it shows; without an as-of time or a received time, every State held must be named.
    /// This takes the node's word for what it holds and when it received it: check against the Secretariat's node.
    /// </summary>
    private static async Task<string?> UnnamedOriginAsync(SyncService.SyncServiceClient sync, ExportProvenance provenance, CancellationToken cancellationToken)
    {
        var status = await sync.GetSyncStatusAsync(new GetSyncStatusRequest(), deadline: DateTime.UtcNow.Add(NodeReader.CallTimeout), cancellationToken: cancellationToken);
        var named = provenance.LogHeads.Select(h => h.Origin).ToHashSet(StringComparer.Ordinal);
        var asOf = provenance.AsOfTime?.ToDateTimeOffset();
        foreach (var origin in status.Origins.Where(o => o.LatestSequence > 0 && !named.Contains(o.Origin)))
        {
            var received = (await FirstChangeAsync(sync, origin.Origin, cancellationToken))?.ReceivedTime?.ToDateTimeOffset();
            if (asOf is { } time && received > time)
            {
                continue;
            }
            return $"the provenance names no head of {origin.Origin}'s log, but the node holds {origin.Origin}'s changes up to {origin.LatestSequence}" +
                (received is { } first && asOf is { } at
                    ? $", the first received at {first.ToString("u", CultureInfo.InvariantCulture)}, by the export's as-of time {at.ToString("u", CultureInfo.InvariantCulture)}"
                    : "") + $": the figures leave {origin.Origin} out";
        }
        return null;
    }

    /// <summary>The node's first change of <paramref name="origin"/>'s log (its received time is when the node received it), or null.</summary>
    private static async Task<StoredObservation?> FirstChangeAsync(SyncService.SyncServiceClient sync, string origin, CancellationToken cancellationToken)
    {
        using var call = sync.StreamChanges(
            new StreamChangesRequest { Origin = origin, BatchSize = 1, SuppressionMethods = { MirpsExchange.Node.Sharing.SuppressionMethods.InSoftware } },
            cancellationToken: cancellationToken);
        while (await call.ResponseStream.MoveNext(cancellationToken))
        {
            if (call.ResponseStream.Current.Changes.FirstOrDefault() is { } first)
            {
                return first;
            }
        }
        return null;
    }

    /// <summary>
    /// The export's rows as the Secretariat computes them from exactly <paramref name="logs"/> and the verified <paramref name="lifecycle"/> logs
    /// (the Secretariat's decision log among them), and the provenance that computation writes (its acceptances are those the figures rest on):
    /// the changes go into a temporary store of the node's schema (each key's last revision current; placeholders, which name no key, left
    /// out as a replica leaves them out of its observations), and the Secretariat's <see cref="RegionalIndicators"/> answers each figure as
    /// the export asked for it.
    /// </summary>
    private static Task<(List<ExportRow> Rows, ExportProvenance Provenance)> RecomputeAsync(Dictionary<string, List<StoredObservation>> logs,
        Dictionary<string, List<Mirps.Observation.V1.LifecycleEntry>> lifecycle, ExportProvenance provenance, bool chart, CancellationToken cancellationToken) =>
        ScratchAsync(logs, lifecycle, async (indicators, requests, catalogue) =>
        {
            Task<GetRegionalValueResponse> Answer(GetRegionalValueRequest request, CancellationToken token)
            {
                var (indicator, period, breakdown) = requests.AdditiveQuery(request.IndicatorCode, request.Period, request.Breakdown, null, request.Lifecycle);
                return indicators.GetValueAsync(indicator, period, breakdown, null, token, request.Lifecycle);
            }
            if (chart)
            {
                return await RegionalExport.ChartRowsAsync(Answer, catalogue, provenance.IndicatorCodes[0], provenance.Periods, null, cancellationToken);
            }
            return await RegionalCommand.RegionalRowsAsync(Answer, catalogue, provenance.IndicatorCodes, provenance.Periods, provenance.Breakdown, null, cancellationToken, provenance.Lifecycle,
                provenance.Rates ? (request, token) => indicators.GetRatesAsync(catalogue, requests.RatesQuery(new GetProtectionRatesRequest { Period = request.Period }), null, token, request.Lifecycle) : null);
        }, cancellationToken);

    /// <summary>
    /// <paramref name="compute"/> run by the Secretariat's own <see cref="RegionalIndicators"/> over a temporary store holding exactly
    /// <paramref name="logs"/> (each key's last revision current; placeholders left out) and the verified <paramref name="lifecycle"/> logs.
    /// </summary>
    private static async Task<T> ScratchAsync<T>(Dictionary<string, List<StoredObservation>> logs, Dictionary<string, List<Mirps.Observation.V1.LifecycleEntry>> lifecycle,
        Func<RegionalIndicators, RegionalRequests, StandardCatalogue, Task<T>> compute, CancellationToken cancellationToken)
    {
        var catalogue = StandardCatalogue.LoadStandard();
        var folder = Directory.CreateTempSubdirectory("mirps-verify-");
        try
        {
            var options = new DbContextOptionsBuilder<NodeDbContext>().UseSqlite($"Data Source={Path.Combine(folder.FullName, "verify.db")};Pooling=False").Options;
            await using var db = new NodeDbContext(options);
            await db.Database.MigrateAsync(cancellationToken);
            foreach (var change in logs.Values.SelectMany(log => log).Where(c => c.Observation is not null)
                .GroupBy(c => c.Observation.Key().ToString()).SelectMany(key => key.OrderBy(c => c.Revision).Select((c, i) => (c, Current: i == key.Count() - 1))))
            {
                var o = change.c.Observation;
                Period.TryParse(o.Period, out var period);
                db.Observations.Add(new ObservationRow
                {
                    Origin = change.c.Origin, OriginSequence = change.c.OriginSequence,
                    IndicatorCode = o.IndicatorCode, Country = o.Country, Period = o.Period, Sex = o.Sex, Age = o.Age, CountryOfOrigin = o.CountryOfOrigin,
                    ApplicationType = o.ApplicationType, DecisionLevel = o.DecisionLevel, ProcedureType = o.ProcedureType, CountBasis = o.CountBasis,
                    CountryOfDestination = o.CountryOfDestination, LowerBound = o.LowerBound, Confidentiality = o.Confidentiality, Synthetic = o.Synthetic,
                    PeriodStart = period.Start, PeriodEnd = period.End, Revision = change.c.Revision,
                    Value = change.c.Deleted || change.c.Withholding.IsValueWithheld() ? null : o.Value,
                    ValueWithheld = change.c.Withholding.IsValueWithheld(),
                    Status = o.Status, Note = o.Note, Deleted = change.c.Deleted,
                    RecordedTime = Mirps.Log.ChangeHash.Micros(change.c.RecordedTime),
                    SupersededTime = change.Current ? null : 1,
                    ReceivedTime = 0,
                });
            }
            // The verified lifecycle logs up to the heads named, the Secretariat's decision log (origin "secretariat") among them: the reporting
            // cycle is then judged by the Secretariat's own code (ApprovalCells), acceptances, rejections and changes since an approval included.
            foreach (var entry in lifecycle.Values.SelectMany(entries => entries))
            {
                db.LifecycleEntries.Add(new LifecycleEntryRow
                {
                    Origin = entry.Origin, EntrySequence = entry.EntrySequence, PreviousHash = entry.PreviousHash.ToByteArray(), Country = entry.Country,
                    GroupId = entry.GroupId, Period = entry.Period, Action = entry.Action, LogSequence = entry.LogSequence, LogHash = entry.LogHash.ToByteArray(),
                    Reason = entry.Reason, Actor = entry.Actor, RecordedTime = Mirps.Log.ChangeHash.Micros(entry.RecordedTime), KeyId = entry.KeyId,
                    Signature = entry.Signature.ToByteArray(), EntryHash = Mirps.Log.LifecycleEntrySignature.Hash(entry), ReceivedTime = 0,
                });
            }
            await db.SaveChangesAsync(cancellationToken);
            var requests = new RegionalRequests(catalogue, TimeProvider.System);
            var indicators = new RegionalIndicators(new RegionalAggregator(db, catalogue), new ReceiveStamps(TimeProvider.System), db, catalogue);
            return await compute(indicators, requests, catalogue);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            folder.Delete(recursive: true);
        }
    }

    /// <summary>
    /// An export and its provenance: a file with <c>FILE.provenance.json</c> beside it (or <paramref name="provenance"/>), or a zip the web app
    /// downloads holding both (one data file, CSV, SDMX-CSV or xlsx, and its <c>.provenance.json</c>). Each row comes with where it was read
    /// ("FILE, line N" or "FILE, sheet 'S', row N"), so that a figure that does not verify is named where a person finds it.
    /// </summary>
    private static async Task<(List<(ExportRow Row, string Place)> Rows, List<(CompletenessCell Cell, string Place)>? Cells, ExportProvenance Provenance)> ReadExportAsync(
        string file, string? provenance, CancellationToken cancellationToken)
    {
        if (!file.EndsWith(".zip", StringComparison.OrdinalIgnoreCase))
        {
            await using var stream = File.OpenRead(file);
            var (fileRows, fileCells) = await ReadDataAsync(Path.GetFileName(file), stream, cancellationToken);
            return (fileRows, fileCells, JsonParser.Default.Parse<ExportProvenance>(await File.ReadAllTextAsync(provenance ?? ProvenanceFile(file), cancellationToken)));
        }
        await using var zip = File.OpenRead(file);
        var (dataName, data, sidecar) = DownloadZip.Read(zip, Path.GetFileName(file));
        var (rows, cells) = await ReadDataAsync($"{Path.GetFileName(file)}: {dataName}", new MemoryStream(data, writable: false), cancellationToken);
        return (rows, cells, JsonParser.Default.Parse<ExportProvenance>(provenance is null ? sidecar : await File.ReadAllTextAsync(provenance, cancellationToken)));
    }

    /// <summary>
    /// The rows of one export file named <paramref name="name"/>: an xlsx workbook's first sheet (by its name's ending), else CSV or SDMX-CSV.
    /// A completeness download (its columns those of <see cref="PageDownloads.CompletenessHeaders"/>, in Spanish or English) gives its cells instead.
    /// </summary>
    private static async Task<(List<(ExportRow Row, string Place)> Rows, List<(CompletenessCell Cell, string Place)>? Cells)> ReadDataAsync(string name, Stream stream,
        CancellationToken cancellationToken)
    {
        List<(List<string> Fields, int Line)> table;
        Func<int, string> place;
        if (name.EndsWith(".xlsx", StringComparison.OrdinalIgnoreCase))
        {
            (var sheet, table) = MirpsExchange.Catalogue.Spreadsheets.ObservationXlsx.ReadTable(stream);
            place = line => $"{name}, sheet '{sheet}', row {line}";
        }
        else
        {
            using var reader = new StreamReader(stream);
            place = line => $"{name}, line {line}";
            try
            {
                table = [.. ExportReader.Table(new StringReader(await reader.ReadToEndAsync(cancellationToken)))];
            }
            catch (ExportFormatException e)
            {
                throw new InvalidDataException($"{place(e.Line)}, {(e.ColumnName.Length > 0 ? $"field {e.ColumnName}" : $"column {e.Column}")}: {e.Reason}", e);
            }
        }
        if (table.Count > 0 && new[] { MirpsExchange.Web.Texts.Es, MirpsExchange.Web.Texts.En }.FirstOrDefault(t =>
            table[0].Fields.Select(f => f.TrimStart('\uFEFF')).SequenceEqual(PageDownloads.CompletenessHeaders(t))) is { } texts)
        {
            return ([], CompletenessCells(table, texts, place));
        }
        try
        {
            return ([.. ExportReader.ReadNumbered(table).Select(r => (r.Row, place(r.Line)))], null);
        }
        catch (ExportFormatException e)
        {
            throw new InvalidDataException($"{place(e.Line)}{(e.ColumnName.Length > 0 ? $", column {e.ColumnName}" : e.Column > 0 ? $", column {e.Column}" : "")}: {e.Reason}", e);
        }
    }

    /// <summary>A completeness download's cells: each row's indicator code, period, State and reporting state (read from its text in <paramref name="texts"/>' language).</summary>
    private static List<(CompletenessCell Cell, string Place)> CompletenessCells(List<(List<string> Fields, int Line)> table, MirpsExchange.Web.Texts texts, Func<int, string> place)
    {
        var states = new[] { ReportingState.Reported, ReportingState.Provisional, ReportingState.Missing }.ToDictionary(s => texts[PageDownloads.StateKey(s)], StringComparer.Ordinal);
        var header = PageDownloads.CompletenessHeaders(texts);
        var cells = new List<(CompletenessCell, string)>();
        foreach (var (fields, line) in table.Skip(1))
        {
            var cell = fields.ConvertAll(MirpsExchange.Catalogue.Csv.SpreadsheetFormula.Restore);
            if (cell.Count != header.Count)
            {
                throw new InvalidDataException($"{place(line)}: {cell.Count} fields where the header has {header.Count}");
            }
            if (!states.TryGetValue(cell[4], out var state))
            {
                throw new InvalidDataException($"{place(line)}, column {header[4]}: '{cell[4]}' is not a reporting state ({string.Join(", ", states.Keys)})");
            }
            cells.Add((new CompletenessCell { IndicatorCode = cell[0], Period = cell[2], Country = cell[3], State = state }, place(line)));
        }
        return cells;
    }

    /// <summary>
    /// The first cell of a completeness download that is not the reporting state the signed logs give (or a cell it lacks or adds), described;
    /// null when all agree. <paramref name="expected"/> is GetCompleteness computed again over exactly the logs read.
    /// </summary>
    private static string? CellDifference(List<(CompletenessCell Cell, string Place)> actual, IReadOnlyList<CompletenessCell> expected)
    {
        var given = expected.ToDictionary(c => (c.IndicatorCode, c.Period, c.Country));
        var seen = new HashSet<(string, string, string)>();
        foreach (var (cell, place) in actual)
        {
            var key = (cell.IndicatorCode, cell.Period, cell.Country);
            if (!seen.Add(key))
            {
                return $"{place}: the cell {cell.IndicatorCode} {cell.Period} {cell.Country} appears twice";
            }
            if (!given.TryGetValue(key, out var signed))
            {
                return $"{place}: the cell {cell.IndicatorCode} {cell.Period} {cell.Country} is not one the completeness of the indicators and periods named has";
            }
            if (signed.State != cell.State)
            {
                return $"{place}: the cell {cell.IndicatorCode} {cell.Period} {cell.Country}, field state: the export says {cell.State.ToString().ToLowerInvariant()}; " +
                    $"the signed logs give {signed.State.ToString().ToLowerInvariant()}";
            }
        }
        return expected.FirstOrDefault(c => !seen.Contains((c.IndicatorCode, c.Period, c.Country))) is { } missing
            ? $"the cell {missing.IndicatorCode} {missing.Period} {missing.Country} ({missing.State.ToString().ToLowerInvariant()} by the signed logs) is not in the export"
            : null;
    }

    /// <summary>
    /// <paramref name="head"/>'s origin's lifecycle log from its first entry up to the head, read from the node (ApprovalService.ListLifecycleEntries):
    /// each entry checked by the replica's own rules (<see cref="LifecycleRules"/>: the next of the chain, its recorded time, its content, its
    /// anchor's order, and signed with the origin's published log key or one a verified rotation of its change log, <paramref name="handover"/>,
    /// handed over to), and the last one's hash the head's.
    /// With <paramref name="readBeyond"/>, also the entries the node holds after the head, by their chain and signature only (the Secretariat's
    /// decision log: they only say that an acceptance claimed came after the export's cut, and need not be of the catalogue verify runs with). Throws <see cref="PeerRefusedException"/> when anything does not
    /// verify, or the node does not hold the log that far.
    /// </summary>
    private static async Task<(List<Mirps.Observation.V1.LifecycleEntry> UpToHead, List<Mirps.Observation.V1.LifecycleEntry> Beyond)> SignedLifecycleAsync(
        Mirps.Approval.V1.ApprovalService.ApprovalServiceClient approvals, Mirps.Regional.V1.LifecycleLogHead head, PublishedLogKeys keys,
        (Dictionary<string, System.Security.Cryptography.ECDsa> HandedOver, Dictionary<string, long> RotatedAway) handover, ChangeLogAnchors? anchors, bool readBeyond,
        CancellationToken cancellationToken)
    {
        var catalogue = StandardCatalogue.LoadStandard();
        var at = LifecycleRules.Position.Start;
        var entries = new List<Mirps.Observation.V1.LifecycleEntry>();
        var beyond = new List<Mirps.Observation.V1.LifecycleEntry>();
        var headHash = Array.Empty<byte>();
        while (entries.Count < head.EntrySequence || readBeyond)
        {
            var page = await approvals.ListLifecycleEntriesAsync(
                new Mirps.Approval.V1.ListLifecycleEntriesRequest { Origin = head.Origin, AfterEntrySequence = entries.Count + beyond.Count }, cancellationToken: cancellationToken);
            if (page.Entries.Count == 0)
            {
                break;
            }
            foreach (var entry in page.Entries.TakeWhile(e => readBeyond || e.EntrySequence <= head.EntrySequence))
            {
                // Beyond the head, the chain and the signature: those entries only date acceptances, and a later decision may be on a
                // group the catalogue verify runs with does not hold (second hostile review, finding 7).
                var micros = entry.EntrySequence > head.EntrySequence
                    ? LifecycleRules.CheckChained(entry, head.Origin, at)
                    : LifecycleRules.CheckNext(entry, head.Origin, at, catalogue, StoreTime.ToMicros(DateTimeOffset.UtcNow) + (long)ReplicaRules.ClockSkew.TotalMicroseconds);
                LifecycleRules.CheckSigned(entry, head.Origin, keys, handover.HandedOver, handover.RotatedAway);
                if (entry.EntrySequence <= head.EntrySequence && head.Origin != MirpsAuth.Secretariat)
                {
                    anchors?.Check(entry, head.Origin, micros, at.KeyId);
                }
                at = at.After(entry, micros);
                var hash = at.Hash;
                if (entry.EntrySequence <= head.EntrySequence)
                {
                    entries.Add(entry);
                    headHash = hash;
                }
                else
                {
                    beyond.Add(entry);
                }
            }
        }
        if (entries.Count < head.EntrySequence)
        {
            throw new PeerRefusedException(ReplicaRules.ChainBroken, $"the node holds {head.Origin}'s lifecycle log only up to entry {entries.Count}");
        }
        if (!headHash.AsSpan().SequenceEqual(head.EntryHash.Span))
        {
            throw new PeerRefusedException(ReplicaRules.ChainBroken, $"the head's hash is not the hash of entry {head.EntrySequence} {head.Origin} signed");
        }
        return (entries, beyond);
    }

    /// <summary>
    /// Why the decision log's <paramref name="head"/> is not the one an answer as of <paramref name="asOf"/> names, or null: the answer names the
    /// last decision the Secretariat recorded by then (recorded times never go back along its signed chain), so the head's entry is recorded by
    /// <paramref name="asOf"/> and the next one the node holds (<paramref name="beyond"/>) after it. An older head would read the Secretariat's
    /// later decisions away (a rejection since, hostile review of the merges); a later one would count decisions taken after the cut.
    /// </summary>
    private static string? DecisionHeadOutOfPlace(Mirps.Regional.V1.LifecycleLogHead head, List<Mirps.Observation.V1.LifecycleEntry> upToHead,
        List<Mirps.Observation.V1.LifecycleEntry> beyond, Google.Protobuf.WellKnownTypes.Timestamp? asOf)
    {
        if (asOf is null)
        {
            return "the provenance names the Secretariat's decision log's head but no as-of time to read it at";
        }
        var cut = StoreTime.ToMicros(asOf.ToDateTimeOffset());
        var when = asOf.ToDateTimeOffset().ToString("u", CultureInfo.InvariantCulture);
        if (upToHead.Count > 0 && Mirps.Log.ChangeHash.Micros(upToHead[^1].RecordedTime) > cut)
        {
            return $"the Secretariat's decision log's head named (entry {head.EntrySequence}) was recorded after the export's as-of time ({when})";
        }
        if (beyond.Count > 0 && Mirps.Log.ChangeHash.Micros(beyond[0].RecordedTime) <= cut)
        {
            return $"the Secretariat's decision log's head named (entry {head.EntrySequence}) stops before entry {beyond[0].EntrySequence}, which the Secretariat " +
                $"recorded by the export's as-of time ({when}): an answer as of that time reads it";
        }
        return null;
    }

    /// <summary><paramref name="country"/>'s lifecycle entry <paramref name="sequence"/> in the verified logs read, or null.</summary>
    private static Mirps.Observation.V1.LifecycleEntry? EntryOf(Dictionary<string, List<Mirps.Observation.V1.LifecycleEntry>> lifecycle, string country, long sequence) =>
        lifecycle.GetValueOrDefault(country)?.ElementAtOrDefault((int)sequence - 1);

    /// <summary>
    /// An acceptance the provenance states that the signed logs read do not bear out, described; null when none. It must name an approval of
    /// that cell the State signed (in its lifecycle log up to the head named), and the Secretariat's last decision on that cell in its signed
    /// decision log up to the head named must accept that very approval (its sequence and hash, as <see cref="ApprovalCells"/> matches them).
    /// <paramref name="laterDecisions"/> (the decision log beyond its head) only say when the Secretariat accepted it after the export's cut.
    /// A rejection's reason is never quoted: it is for the State concerned and the Secretariat.
    /// </summary>
    private static string? UnsignedAcceptance(ExportProvenance provenance, Dictionary<string, List<Mirps.Observation.V1.LifecycleEntry>> lifecycle,
        List<Mirps.Observation.V1.LifecycleEntry> laterDecisions)
    {
        var decisions = lifecycle.GetValueOrDefault(MirpsAuth.Secretariat);
        foreach (var acceptance in provenance.Acceptances)
        {
            var claim = $"the provenance says the Secretariat accepted {acceptance.Country}'s {acceptance.GroupId} {acceptance.Period} (its approval at entry {acceptance.EntrySequence})";
            var entry = EntryOf(lifecycle, acceptance.Country, acceptance.EntrySequence);
            if (entry is null || entry.Action != Mirps.Observation.V1.LifecycleAction.Approve || entry.GroupId != acceptance.GroupId || entry.Period != acceptance.Period)
            {
                return $"{claim}, but entry {acceptance.EntrySequence} of {acceptance.Country}'s lifecycle log is not an approval of that cell {acceptance.Country} signed " +
                    "(within the lifecycle heads named)";
            }
            var approval = Mirps.Log.LifecycleEntrySignature.Hash(entry);
            bool Decides(Mirps.Observation.V1.LifecycleEntry d) => d.Country == acceptance.Country && d.GroupId == acceptance.GroupId && d.Period == acceptance.Period;
            bool Accepts(Mirps.Observation.V1.LifecycleEntry d) => Decides(d) && d.Action == Mirps.Observation.V1.LifecycleAction.Accept
                && d.LogSequence == acceptance.EntrySequence && d.LogHash.Span.SequenceEqual(approval);
            if (decisions?.LastOrDefault(Decides) is { } last && Accepts(last))
            {
                continue;
            }
            var head = provenance.LifecycleHeads.FirstOrDefault(h => h.Origin == MirpsAuth.Secretariat);
            var found = decisions is null
                ? "the provenance names no head of the Secretariat's decision log (origin secretariat), so no signed decision backs it"
                : decisions.LastOrDefault(Decides) is not { } decision
                    ? $"the Secretariat's signed decision log up to the head named (entry {head?.EntrySequence}) holds no decision on that cell"
                    : $"the Secretariat's last decision on that cell in its signed decision log up to the head named (entry {head?.EntrySequence}) is entry {decision.EntrySequence}, " +
                      $"{(decision.Action == Mirps.Observation.V1.LifecycleAction.Accept ? "an acceptance" : "a rejection")} of {decision.Country}'s approval at entry {decision.LogSequence}" +
                      (decision.LogSequence == acceptance.EntrySequence && decision.Action == Mirps.Observation.V1.LifecycleAction.Accept ? " with another hash" : "");
            var later = laterDecisions.FirstOrDefault(Accepts) is { } after
                ? $"; it signed that acceptance only at entry {after.EntrySequence} of its decision log, beyond the head named (entry {head?.EntrySequence})"
                : "";
            return $"{claim}, but {found}{later}";
        }
        return null;
    }

    /// <summary>The first row of the export that is not the figure the logs give (or a figure the export lacks), described; null when all agree.</summary>
    private static string? FirstDifference(List<(ExportRow Row, string Place)> actual, List<ExportRow> expected)
    {
        for (var i = 0; i < Math.Max(actual.Count, expected.Count); i++)
        {
            if (i >= actual.Count)
            {
                return $"the figure {Name(expected[i])} ({Describe(expected[i])}) follows from the signed logs but is not in the export";
            }
            var (row, place) = actual[i];
            if (i >= expected.Count)
            {
                return $"row {i + 1}, the figure {Name(row)} ({Describe(row)}), does not follow from the signed logs: they give no such figure ({place})";
            }
            if (row != expected[i])
            {
                return Name(row) == Name(expected[i])
                    ? $"row {i + 1}, the figure {Name(row)}: the export says {Describe(row)}; the signed logs give {Describe(expected[i])} ({place}, field {Field(row, expected[i])})"
                    : $"row {i + 1}, the figure {Name(row)} ({Describe(row)}), is not the one the signed logs give there: {Name(expected[i])} ({Describe(expected[i])}) ({place})";
            }
        }
        return null;
    }

    /// <summary>
    /// The first of a chart download's State rows that is not as the State's signed log (read up to the head named) gives it to this reader, or
    /// a figure of the log the download leaves out, described; null when all agree. A row is the State's current revision of its key, with no
    /// value and the status confidential when anything of it is withheld from the reader (<see cref="ExportRow.Of"/>, as the download writes it);
    /// a key the log holds no current figure of (never sent, deleted, or withheld whole) is refused. The download must hold every total of the
    /// indicator in each period named (a drill-down, <paramref name="drillDown"/>: that State's totals, by sex, and by age in the last period).
    /// </summary>
    private static string? StateRowDifference(List<(ExportRow Row, string Place)> rows, Dictionary<string, List<StoredObservation>> logs, ExportProvenance provenance,
        string? drillDown)
    {
        var current = new Dictionary<ExportRow, (ExportRow Row, long Sequence)>();
        foreach (var change in logs.Values.SelectMany(log => log).Where(c => c.Observation is not null).OrderBy(c => c.Revision))
        {
            var row = ExportRow.Of(change);
            if (change.Deleted)
            {
                current.Remove(row.Key());
            }
            else
            {
                current[row.Key()] = (row, change.OriginSequence);
            }
        }
        var seen = new HashSet<ExportRow>();
        foreach (var (row, place) in rows)
        {
            var state = row.ReferenceArea;
            if (provenance.LogHeads.FirstOrDefault(h => h.Origin == state) is not { } head)
            {
                return $"{place}: the row {Name(row)} ({Describe(row)}) is {state}'s, but the provenance names no head of {state}'s log: no signed change of {state} backs it";
            }
            if (!seen.Add(row.Key()))
            {
                return $"{place}: the row {Name(row)} appears twice";
            }
            if (!current.TryGetValue(row.Key(), out var signed))
            {
                var withheld = logs[state].Count(c => c.Observation is null);
                return $"{place}: the row {Name(row)} ({Describe(row)}) does not follow from {state}'s signed log up to the head at change {head.Sequence}: it holds no current figure " +
                    $"of that key{(withheld > 0 ? $" (of its {withheld} changes withheld whole from this reader, none can be shown)" : "")}";
            }
            if (signed.Row != row)
            {
                return $"{place}: the row {Name(row)}, field {Field(row, signed.Row)}: the export says {Describe(row)}; {state}'s signed log up to the head at change {head.Sequence} " +
                    $"gives {Describe(signed.Row)} (its change {signed.Sequence})";
            }
        }
        static bool Total(string code) => code is StandardCatalogue.TotalCode or "";
        var last = provenance.Periods.LastOrDefault();
        var indicator = provenance.IndicatorCodes[0];
        foreach (var (key, signed) in current.OrderBy(c => c.Value.Row.ReferenceArea, StringComparer.Ordinal).ThenBy(c => c.Value.Sequence))
        {
            var o = key;
            var shown = o.IndicatorCode == indicator && provenance.Periods.Contains(o.Period) && Total(o.CountryOfOrigin)
                && Enumerable.Range(0, Mirps.Log.AddedDimensions.Count).All(i => o.Added.IsEmptyOrDefault(i))
                && (drillDown is null ? Total(o.Sex) && Total(o.Age) : o.ReferenceArea == drillDown && (Total(o.Age) || o.Period == last && Total(o.Sex)));
            if (shown && !seen.Contains(key))
            {
                return $"the figure {Name(signed.Row)} ({Describe(signed.Row)}) is in {o.ReferenceArea}'s signed log (its change {signed.Sequence}) but not in the export";
            }
        }
        return null;
    }

    /// <summary>The first field in which <paramref name="row"/> and <paramref name="other"/> (the same figure) differ, as the CSV layout names it.</summary>
    private static string Field(ExportRow row, ExportRow other) =>
        row.Value != other.Value ? "value"
        : row.Status != other.Status ? "status"
        : row.Note != other.Note ? "note"
        : row.Attributes.LowerBound != other.Attributes.LowerBound ? "lower_bound"
        : row.Attributes.Confidentiality != other.Attributes.Confidentiality ? "confidentiality"
        : row.Attributes.Synthetic != other.Attributes.Synthetic ? "synthetic"
        : "key";

    private static string Name(ExportRow row) =>
        string.Join(" ", new[] { row.IndicatorCode, row.ReferenceArea, row.Period, row.Sex, row.Age, row.CountryOfOrigin, row.Added.ToString() }.Where(p => p.Length > 0));

    private static string Describe(ExportRow row) =>
        $"value {(row.Value is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "none")}, {row.Status.ToString().ToLowerInvariant()}{(row.Attributes.LowerBound ? ", lower bound" : "")}{(row.Attributes.Synthetic ? ", synthetic" : "")}{(row.Note.Length > 0 ? $", note \"{row.Note}\"" : "")}";
}
