using Grpc.Core;
using Mirps.Auth;
using Mirps.Log;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Exports;
using MirpsExchange.Node.Grpc;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Sdmx;

/// <summary>
/// SDMX REST 2.1 at every node and at the Secretariat, under <see cref="Root"/>: the structures of the catalogue
/// (<see cref="SdmxStructure"/>) and its data as ObservationService.StreamObservations serves them to the same caller
/// (<see cref="ObservationReads"/>: same token checks, sharing policy, small-count and complementary withholding, as-of read).
/// A value withheld from the caller appears as gRPC serves it: its key without a value, OBS_STATUS C and CONF_STATUS C; what gRPC
/// leaves out (not shared, embargoed) is left out. Refusals are SDMX errors (<see cref="SdmxError"/>). docs/sdmx.md has the mapping.
/// </summary>
public static partial class SdmxRestExtensions
{
    public const string Root = "/sdmx/rest";

    /// <summary>
    /// Most observations one data answer holds (Sdmx:MaxObservations). An answer written as it is read (<see cref="Streams"/>)
    /// holds little in memory whatever its size, but costs the node a read and the client a download in proportion: one found
    /// larger before its first bytes are sent is refused with 413 (SDMX 510), after them the transfer is cut (never a complete-
    /// looking partial answer). An answer built in memory (history, updatedAfter, first/lastNObservations, SDMX-JSON) is refused
    /// with 413 alike, and holds at most this many rows.
    /// </summary>
    public const int DefaultMaxObservations = 250_000;

    /// <summary>
    /// SDMX data answers in progress at once per reading party, a State (whatever credentials it uses) or the Secretariat
    /// (Sdmx:MaxConcurrentDataRequests, <see cref="PartyLimit"/>): more are refused with 429.
    /// </summary>
    public const int DefaultMaxConcurrentDataRequests = 2;

    public static WebApplication MapSdmxRest(this WebApplication app)
    {
        var structure = new SdmxStructure(app.Services.GetRequiredService<StandardCatalogue>());
        var maxObservations = app.Configuration.GetValue("Sdmx:MaxObservations", DefaultMaxObservations);
        var limit = new PartyLimit(app.Configuration.GetValue("Sdmx:MaxConcurrentDataRequests", DefaultMaxConcurrentDataRequests));
        var group = app.MapGroup(Root);
        group.MapGet("/data/{flowRef}/{key?}/{providerRef?}", (HttpContext context, string flowRef, string? key, string? providerRef) =>
            Answer(context, () => DataAsync(context, structure, flowRef, key, providerRef, maxObservations, limit), DataJsonAsked));
        group.MapGet("/{resource}/{agencyId?}/{resourceId?}/{version?}", (HttpContext context, string resource, string? agencyId, string? resourceId, string? version) =>
            Answer(context, () => StructureAsync(context, structure, resource, agencyId, resourceId, version), StructureJsonAsked));
        group.MapFallback((HttpContext context) =>
            Answer(context, () => throw SdmxError.Syntax($"'{context.Request.Path}' is not a query of the SDMX RESTful API (structure: {Root}/dataflow/{SdmxStructure.Agency}/{SdmxStructure.DataflowId}/latest; data: {Root}/data/{SdmxStructure.DataflowId}/all)"), StructureJsonAsked));
        return app;
    }

    /// <summary>SDMX-JSON data, when a data query asked for it (by format or Accept); a query whose format cannot be read gets SDMX-ML.</summary>
    private static SdmxError.JsonAsked? DataJsonAsked(HttpRequest request)
    {
        try
        {
            return SdmxFormats.DataFormat(request) switch
            {
                SdmxDataFormat.Json => new(Data: true, SdmxJsonVersion.V1),
                SdmxDataFormat.Json2 => new(Data: true, SdmxJsonVersion.V2),
                _ => null,
            };
        }
        catch (SdmxError)
        {
            return null;
        }
    }

    /// <summary>An SDMX-JSON structure message, when a structure query asked for it (by format or Accept).</summary>
    private static SdmxError.JsonAsked? StructureJsonAsked(HttpRequest request)
    {
        try
        {
            return SdmxFormats.StructureFormat(request) switch
            {
                SdmxStructureFormat.Json => new(Data: false, SdmxJsonVersion.V1),
                SdmxStructureFormat.Json2 => new(Data: false, SdmxJsonVersion.V2),
                _ => null,
            };
        }
        catch (SdmxError)
        {
            return null;
        }
    }

    /// <summary>Runs <paramref name="answer"/>; a refusal is written in SDMX-JSON when <paramref name="jsonAsked"/> says the client asked for it, else in SDMX-ML.</summary>
    private static async Task Answer(HttpContext context, Func<Task> answer, Func<HttpRequest, SdmxError.JsonAsked?> jsonAsked)
    {
        context.Response.Headers.Vary = "Accept";
        try
        {
            await answer();
        }
        catch (SdmxError error)
        {
            var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(SdmxRestExtensions));
            LogRefused(logger, context.Request.Path, error.Status, error.Message);
            if (context.Response.HasStarted)
            {
                // Part of a streamed answer was sent already: cut the transfer, so the client sees a failed download rather
                // than an answer that looks complete.
                LogCut(logger, context.Request.Path);
                context.Abort();
                return;
            }
            await error.WriteAsync(context, jsonAsked(context.Request));
        }
    }

    /// <summary>A token for this node (as for gRPC: the authentication scheme checks signature, audience, lifetime, revocation and certificate binding).</summary>
    private static void RequireAuthenticated(HttpContext context)
    {
        if (context.User.Identity?.IsAuthenticated != true)
        {
            throw SdmxError.Unauthorized("this query needs a valid bearer token for this node (Authorization: Bearer ...)");
        }
    }

    private static Task StructureAsync(HttpContext context, SdmxStructure structure, string resource, string? agency, string? id, string? version)
    {
        RequireAuthenticated(context);
        var (parts, codelists) = SdmxStructureQuery.Resolve(structure, resource, agency, id, version, context.Request.Query);
        var format = SdmxFormats.StructureFormat(context.Request);
        var clock = context.RequestServices.GetRequiredService<TimeProvider>();
        var (messageId, prepared) = (MessageId(context), clock.GetUtcNow());
        context.Response.ContentType = SdmxFormats.MediaType(format) + "; charset=utf-8";
        if (format == SdmxStructureFormat.Xml)
        {
            return SendAsync(context, buffer => structure.Write(buffer, parts, messageId, prepared, codelists));
        }
        // SDMX-JSON: the same parts as SDMX-ML, its texts in the reader's languages (lang=, else Accept-Language), said in Content-Language.
        var languages = SdmxFormats.Languages(context.Request);
        context.Response.Headers.ContentLanguage = string.Join(", ", languages);
        context.Response.Headers.Vary = "Accept, Accept-Language";
        return SendAsync(context, buffer => structure.WriteJson(buffer, parts, messageId, prepared,
            format == SdmxStructureFormat.Json2 ? SdmxJsonVersion.V2 : SdmxJsonVersion.V1, languages, context.Request.PathBase + Root, codelists));
    }

    /// <summary>
    /// Writes a message with a synchronous writer into pooled memory pages (never a temporary file: the data must not land in a
    /// folder other users may read; no large contiguous array either), then copies it to the response asynchronously.
    /// </summary>
    private static async Task SendAsync(HttpContext context, Action<Stream> write)
    {
        await using var buffer = new Microsoft.AspNetCore.WebUtilities.FileBufferingWriteStream(memoryThreshold: int.MaxValue);
        write(buffer);
        await buffer.DrainBufferAsync(context.Response.Body, context.RequestAborted);
    }

    private static async Task DataAsync(HttpContext context, SdmxStructure structure, string flowRef, string? key, string? providerRef, int maxObservations, PartyLimit limit)
    {
        RequireAuthenticated(context);
        // The same reader as StreamObservations: the read scope and a State's or the Secretariat's credential.
        if (!context.User.HasScope(MirpsAuth.ReadScope))
        {
            throw SdmxError.Forbidden($"data queries need a token with the '{MirpsAuth.ReadScope}' scope");
        }
        var reader = Reader.FromCaller(context.User) ?? throw SdmxError.Forbidden("only a State's or the Secretariat's credential reads observations");
        using var inProgress = limit.TryEnter(reader.IsSecretariat ? "SECRETARIAT" : reader.Country ?? "")
            ?? throw SdmxError.TooManyRequests("too many data queries of your State (or the Secretariat) are in progress at this node (Sdmx:MaxConcurrentDataRequests); ask again once one has finished");
        var query = SdmxDataQuery.Parse(structure, flowRef, key, providerRef, context.Request.Query);
        var format = SdmxFormats.DataFormat(context.Request);
        if (!query.WithObservations && format is SdmxDataFormat.Csv1 or SdmxDataFormat.Csv2)
        {
            // SDMX-CSV has a row per observation and nothing else: series without observations cannot be written in it.
            throw SdmxError.NotAcceptable("detail=serieskeysonly and nodata are written in SDMX-ML or SDMX-JSON, not SDMX-CSV (a row per observation)");
        }

        var reads = context.RequestServices.GetRequiredService<ObservationReads>();
        var streams = Streams(query, format);
        IAsyncEnumerable<StoredObservation> served;
        try
        {
            served = await reads.ServeAsync(query.Request, reader, query.Revisions, context.RequestAborted,
                seriesOrder: streams && query.DimensionAtObservation != SdmxData.AllDimensions);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
        {
            throw SdmxError.Syntax(e.Status.Detail);
        }
        var clock = context.RequestServices.GetRequiredService<TimeProvider>();
        var id = MessageId(context);
        if (streams)
        {
            await StreamAsync(context, structure, query, format, served, maxObservations, id, clock.GetUtcNow());
            return;
        }
        var rows = new List<(ExportRow Row, long Received)>();
        await foreach (var stored in served.WithCancellation(context.RequestAborted))
        {
            if (rows.Count == maxObservations)
            {
                throw SdmxError.TooLarge($"the answer holds more than {maxObservations:N0} observations, this service's limit; narrow the key or the periods");
            }
            rows.Add((Row(stored), StoreTime.ToMicros(stored.ReceivedTime.ToDateTimeOffset())));
        }
        if (rows.Count == 0)
        {
            throw SdmxError.NoResults("no data match the query (or none that this credential may read)");
        }
        var dataSets = DataSets(query, rows);
        if (query.FirstN is not null || query.LastN is not null)
        {
            dataSets = [.. dataSets.Select(d => d with { Rows = SdmxData.Trim(structure, d.Rows, query.FirstN, query.LastN) })];
        }

        var prepared = clock.GetUtcNow();
        context.Response.ContentType = SdmxFormats.MediaType(format) + "; charset=utf-8";
        await SendAsync(context, buffer =>
        {
            if (format is SdmxDataFormat.Csv1 or SdmxDataFormat.Csv2)
            {
                var writer = new ExportWriter(structure.Catalogue, new ExportOptions(format == SdmxDataFormat.Csv1 ? ExportFormat.SdmxCsv1 : ExportFormat.SdmxCsv));
                writer.Write(buffer, dataSets.SelectMany(d => d.Rows));
                return;
            }
            var data = new SdmxData(structure, dataSets, query.DimensionAtObservation, query.WithAttributes, query.WithObservations);
            switch (format)
            {
                case SdmxDataFormat.GenericXml:
                    data.WriteGeneric(buffer, id, prepared);
                    break;
                case SdmxDataFormat.StructureSpecificXml:
                    data.WriteStructureSpecific(buffer, id, prepared);
                    break;
                case SdmxDataFormat.Json2:
                    data.WriteJson(buffer, id, prepared, SdmxJsonVersion.V2);
                    break;
                default:
                    data.WriteJson(buffer, id, prepared);
                    break;
            }
        });
    }

    /// <summary>
    /// Whether the answer is written as it is read: the values now or as of a time (one data set), in SDMX-CSV or SDMX-ML, as time
    /// series or flat, without first/lastNObservations. The others (history and updatedAfter, whose data sets group the rows; trimmed
    /// series; cross-sections, whose series cut across the read order; SDMX-JSON, whose series are objects keyed by position) are
    /// built in memory, up to Sdmx:MaxObservations.
    /// </summary>
    private static bool Streams(SdmxDataQuery query, SdmxDataFormat format) =>
        query.Revisions == ObservationReads.Revisions.Current && query.FirstN is null && query.LastN is null && !SdmxFormats.IsJson(format)
        && query.DimensionAtObservation is SdmxData.TimeSeries or SdmxData.AllDimensions;

    /// <summary>
    /// Writes the answer as its rows are read (in series order for time series): memory holds a chunk of output and one series.
    /// What can be refused is refused before the first byte (an empty answer: 404, SDMX 100); an answer found larger than
    /// <paramref name="maxObservations"/> once its first bytes were sent is cut (see <see cref="Answer"/>).
    /// </summary>
    private static async Task StreamAsync(HttpContext context, SdmxStructure structure, SdmxDataQuery query, SdmxDataFormat format,
        IAsyncEnumerable<StoredObservation> served, int maxObservations, string id, DateTimeOffset prepared)
    {
        var cancellation = context.RequestAborted;
        await using var rows = served.GetAsyncEnumerator(cancellation);
        if (!await rows.MoveNextAsync())
        {
            throw SdmxError.NoResults("no data match the query (or none that this credential may read)");
        }
        async IAsyncEnumerable<ExportRow> Rows()
        {
            var count = 0;
            do
            {
                if (++count > maxObservations)
                {
                    throw SdmxError.TooLarge($"the answer holds more than {maxObservations:N0} observations, this service's limit; narrow the key or the periods");
                }
                yield return Row(rows.Current);
            }
            while (await rows.MoveNextAsync());
        }
        context.Response.ContentType = SdmxFormats.MediaType(format) + "; charset=utf-8";
        if (format is SdmxDataFormat.Csv1 or SdmxDataFormat.Csv2)
        {
            var writer = new ExportWriter(structure.Catalogue, new ExportOptions(format == SdmxDataFormat.Csv1 ? ExportFormat.SdmxCsv1 : ExportFormat.SdmxCsv));
            await writer.StreamAsync(context.Response.Body, Rows(), SdmxData.StreamChunkBytes, cancellation);
            return;
        }
        await new SdmxData(structure, [], query.DimensionAtObservation, query.WithAttributes, query.WithObservations)
            .StreamXmlAsync(context.Response.Body, format == SdmxDataFormat.StructureSpecificXml, id, prepared, Rows(), cancellation);
    }

    /// <summary>
    /// The data sets of an answer: one (Information) for the values now or as of a time; for updatedAfter the revisions received
    /// since (Replace) and the deletions (Delete); for includeHistory one data set per time this node received changes of the
    /// answer (Replace, valid from then; Delete, valid until then), oldest first.
    /// </summary>
    private static List<SdmxDataSet> DataSets(SdmxDataQuery query, List<(ExportRow Row, long Received)> rows)
    {
        switch (query.Revisions)
        {
            case ObservationReads.Revisions.History:
                return [.. rows.GroupBy(r => (r.Received, r.Row.Deleted)).OrderBy(g => g.Key.Received).ThenBy(g => g.Key.Deleted)
                    .Select(g => g.Key.Deleted
                        ? new SdmxDataSet([.. g.Select(r => r.Row)], SdmxAction.Delete, ValidTo: StoreTime.ToTimestamp(g.Key.Received).ToDateTimeOffset())
                        : new SdmxDataSet([.. g.Select(r => r.Row)], SdmxAction.Replace, ValidFrom: StoreTime.ToTimestamp(g.Key.Received).ToDateTimeOffset()))];
            case ObservationReads.Revisions.UpdatedAfter:
                List<SdmxDataSet> sets = [];
                if (rows.Where(r => !r.Row.Deleted).Select(r => r.Row).ToList() is { Count: > 0 } replaced)
                {
                    sets.Add(new(replaced, SdmxAction.Replace));
                }
                if (rows.Where(r => r.Row.Deleted).Select(r => r.Row).ToList() is { Count: > 0 } deleted)
                {
                    sets.Add(new(deleted, SdmxAction.Delete));
                }
                return sets;
            default:
                return [new([.. rows.Select(r => r.Row)])];
        }
    }

    /// <summary>
    /// A served observation as an SDMX row: a value withheld from the reader (small count, complementary) keeps its key and loses
    /// its value, note and attributes, with OBS_STATUS C and CONF_STATUS C, as gRPC serves it (value 0 there, status CONFIDENTIAL).
    /// </summary>
    private static ExportRow Row(StoredObservation stored)
    {
        var o = stored.Observation;
        var withheld = stored.Withholding.IsValueWithheld();
        return new ExportRow(o.IndicatorCode, o.Country, o.Period, o.Sex, o.Age, o.CountryOfOrigin,
            withheld || stored.Deleted ? null : o.Value,
            withheld ? ObservationStatus.Confidential : o.Status,
            withheld ? "" : o.Note,
            AddedDimensions.Of(o),
            withheld ? new ValueAttributes(false, ConfidentialityStatus.Confidential, false) : ValueAttributes.Of(o),
            stored.Deleted);
    }

    private static string MessageId(HttpContext context) => "IREF" + context.TraceIdentifier.Replace(":", "", StringComparison.Ordinal);

    [LoggerMessage(EventName = "SdmxAnswerCut", Level = LogLevel.Warning, Message = "SDMX REST {Path}: the answer was refused after its first bytes were sent; the transfer was cut")]
    private static partial void LogCut(ILogger logger, string path);

    [LoggerMessage(EventName = "SdmxQueryRefused", Level = LogLevel.Information, Message = "SDMX REST {Path} refused with {Status}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string path, int status, string reason);
}
