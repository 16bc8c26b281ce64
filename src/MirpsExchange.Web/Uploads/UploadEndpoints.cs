using System.Text;
using Google.Rpc;
using Grpc.Core;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue.Csv;
using MirpsExchange.Catalogue.Spreadsheets;
using MirpsExchange.Catalogue.Validation;
using MirpsExchange.Web.SignIn;

namespace MirpsExchange.Web.Uploads;

/// <summary>
/// The upload page's two form posts (the page itself, Components/Pages/State/Upload.razor, only shows where an upload stands):
/// POST /upload/validate reads a CSV file or xlsx workbook (the standard layout, ObservationCsv and ObservationXlsx), judges it with
/// the node's own validator and then the node's ValidateObservations (the catalogue's rules across figures, with the
/// person's token) and keeps it, writing nothing; POST /upload/{id}/submit submits it with SubmitObservations and a
/// request_id of its own, so a second confirmation is answered from the first and writes nothing. Both need a State
/// account that may submit, at its State's node, and the anti-forgery token of the page's form; each answers with a
/// redirect to the page (post, redirect, get: reloading the page never posts again).
/// </summary>
public static partial class UploadEndpoints
{
    public const string Path = "/upload";

    /// <summary>Where the upload form posts its file (a literal segment: the page's own route, /upload/{id}, never takes it).</summary>
    public const string ValidatePath = Path + "/validate";

    /// <summary>The xlsx template of the node's State for one period (?period=2024), as <c>mirps template</c> writes it.</summary>
    public const string TemplatePath = Path + "/template";

    /// <summary>Where an upload's confirmation posts.</summary>
    public static string SubmitPath(string id) => $"{Path}/{id}/submit";

    /// <summary>What the form's multipart encoding may add to the file (boundaries, the anti-forgery field).</summary>
    private const long FormOverhead = 64 * 1024;

    public static IEndpointRouteBuilder MapUploads(this IEndpointRouteBuilder app)
    {
        app.MapPost(ValidatePath, UploadAsync).RequireAuthorization(WebPolicies.StateSubmitter).DisableAntiforgery();
        app.MapPost(Path + "/{id}/submit", SubmitAsync).RequireAuthorization(WebPolicies.StateSubmitter).DisableAntiforgery();
        app.MapGet(TemplatePath, Template).RequireAuthorization(WebPolicies.StateSubmitter);
        return app;
    }

    /// <summary>
    /// The template of this node's State and <paramref name="period"/> from the node's catalogue (the one the upload validates with) (the columns, code lists and
    /// Spanish and English headers the upload reads back), so a filled-in template is accepted as it is.
    /// </summary>
    private static IResult Template([Microsoft.AspNetCore.Mvc.FromServices] WebHost host, [Microsoft.AspNetCore.Mvc.FromServices] MirpsExchange.Catalogue.StandardCatalogue catalogue, string? period)
    {
        if (!MirpsExchange.Catalogue.Periods.Period.TryParse(period ?? "", out var parsed))
        {
            return Results.BadRequest("period is a year (2024), a quarter (2024-Q1) or a month (2024-01)");
        }
        var file = new MemoryStream();
        try
        {
            XlsxTemplate.Write(file, catalogue, host.Country, parsed.ToString());
        }
        catch (ArgumentException e)
        {
            return Results.BadRequest(e.Message);
        }
        file.Position = 0;
        return Results.File(file, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", $"mirps-{host.Country}-{parsed}.xlsx");
    }

    /// <summary>The page of an upload.</summary>
    public static string PageOf(string id) => $"{Path}/{id}";

    private static async Task<IResult> UploadAsync(HttpContext http, IAntiforgery antiforgery, PendingUploads uploads, IOptions<WebOptions> options,
        WebHost host, ObservationValidator validator, NodeCalls calls, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger(typeof(UploadEndpoints));
        // One account has a bounded number of uploads in progress (one by default), so a slow sender cannot hold every slot.
        using var ofAccount = uploads.PerAccount.TryEnter(http.User.FindFirst("sub")?.Value ?? "");
        if (ofAccount is null)
        {
            LogBusyAccount(logger, http.User.Identity?.Name ?? "", uploads.MaxPerAccount);
            var texts = Texts.Of(http);
            http.Response.Headers.RetryAfter = "10";
            return WebSignIn.Message(texts, texts.Format("upload.busy.account", uploads.MaxPerAccount), StatusCodes.Status429TooManyRequests, Path, "upload.title");
        }
        // A bounded number of uploads are received, read and judged at once (a workbook can take much memory and time to read).
        if (!uploads.Reading.Wait(0))
        {
            LogBusy(logger, http.User.Identity?.Name ?? "", uploads.MaxReading);
            var texts = Texts.Of(http);
            http.Response.Headers.RetryAfter = "10";
            return WebSignIn.Message(texts, texts.Format("upload.busy", uploads.MaxReading), StatusCodes.Status429TooManyRequests, Path, "upload.title");
        }
        try
        {
            return await ReceiveAsync(http, antiforgery, uploads, options, host, validator, calls, logger);
        }
        finally
        {
            uploads.Reading.Release();
        }
    }

    private static async Task<IResult> ReceiveAsync(HttpContext http, IAntiforgery antiforgery, PendingUploads uploads, IOptions<WebOptions> options,
        WebHost host, ObservationValidator validator, NodeCalls calls, ILogger logger)
    {
        var owner = http.User.FindFirst("sub")?.Value ?? "";
        var limit = options.Value.MaxUploadBytes;
        IFormFile? file = null;
        var tooLarge = http.Request.ContentLength > limit + FormOverhead;
        if (!tooLarge)
        {
            // Whatever the request says of its length, no more than this is read.
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            {
                size.MaxRequestBodySize = limit + FormOverhead;
            }
            try
            {
                // The form's anti-forgery token first: a cross-site post is refused before its file is looked at.
                if (!await antiforgery.IsRequestValidAsync(http))
                {
                    LogRefused(logger, "the anti-forgery token is missing or wrong");
                    return Results.BadRequest();
                }
                file = http.Request.Form.Files.GetFile("file");
                tooLarge = file is not null && file.Length > limit;
            }
            catch (Exception e) when (e is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } or InvalidDataException)
            {
                tooLarge = true;
            }
        }
        var upload = new PendingUpload
        {
            Id = PendingUploads.NewId(),
            Owner = owner,
            FileName = System.IO.Path.GetFileName(file?.FileName ?? ""),
            File = tooLarge || file is null || file.Length == 0 ? new ObservationFile() : await ReadAsync(file, http.RequestAborted),
        };
        if (tooLarge)
        {
            upload.TooLargeLimit = limit;
            upload.Problems.Add(Notice("upload.too.large"));
        }
        else if (file is null || file.Length == 0)
        {
            upload.Problems.Add(Notice("upload.no.file"));
        }
        else if (!IsCsv(file.FileName) && !IsXlsx(file.FileName))
        {
            upload.Problems.Add(Notice("upload.bad.type"));
        }
        else
        {
            await JudgeAsync(upload, host, validator, calls, http.RequestAborted);
        }
        upload.Stage = upload.Problems.Count > 0 ? UploadStage.Refused : UploadStage.Valid;
        uploads.Add(upload);
        LogJudged(logger, http.User.Identity?.Name ?? "", upload.FileName, upload.Observations.Count, upload.Problems.Count, upload.Warnings.Count);
        return Results.Redirect(PageOf(upload.Id));
    }

    private static async Task<IResult> SubmitAsync(HttpContext http, string id, IAntiforgery antiforgery, PendingUploads uploads, NodeCalls calls, ObservationValidator validator,
        ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger(typeof(UploadEndpoints));
        if (!await antiforgery.IsRequestValidAsync(http))
        {
            LogRefused(logger, "the anti-forgery token is missing or wrong");
            return Results.BadRequest();
        }
        var upload = uploads.Find(id, http.User.FindFirst("sub")?.Value);
        if (upload is null || upload.Stage == UploadStage.Refused)
        {
            // The page says it has expired (or shows its errors): nothing to submit.
            return Results.Redirect(PageOf(id));
        }
        var client = new ObservationService.ObservationServiceClient(calls.Invoker);
        try
        {
            // The same request_id for every confirmation of this upload: the node answers a second one from the first, writing nothing.
            var response = await client.SubmitObservationsAsync(new SubmitObservationsRequest { RequestId = upload.RequestId, Observations = { upload.Observations } },
                await calls.OptionsAsync());
            lock (upload)
            {
                upload.Result = response;
                upload.Stage = UploadStage.Submitted;
                upload.Warnings.Clear();
                upload.Warnings.AddRange(response.Warnings.Select(w => RuleProblem(upload.File, w, validator.Catalogue)));
            }
            LogSubmitted(logger, http.User.Identity?.Name ?? "", upload.FileName, response.Inserted, response.Revised, response.Unchanged, response.Replayed);
        }
        catch (RpcException e)
        {
            lock (upload)
            {
                upload.Stage = UploadStage.Refused;
                upload.Problems.AddRange(Refusal(upload.File, e));
            }
        }
        return Results.Redirect(PageOf(upload.Id));
    }

    /// <summary>The file's rows, by its extension: an xlsx workbook, else the standard CSV layout (UTF-8).</summary>
    private static async Task<ObservationFile> ReadAsync(IFormFile file, CancellationToken cancellationToken)
    {
        if (IsXlsx(file.FileName))
        {
            // OpenXml reads a package it can seek in.
            using var memory = new MemoryStream((int)file.Length);
            await file.CopyToAsync(memory, cancellationToken);
            memory.Position = 0;
            // Reading stops past what one upload may hold (the validator's batch): a workbook of millions of rows is not read to the end.
            return ObservationXlsx.Read(memory, ObservationValidator.MaxBatchSize);
        }
        if (!IsCsv(file.FileName))
        {
            return new ObservationFile();
        }
        using var reader = new StreamReader(file.OpenReadStream(), new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true);
        return ObservationCsv.Read(reader);
    }

    /// <summary>
    /// Every problem the file has, located in it: its form (the readers), the node's validator (codes, periods, values,
    /// keys repeated, the node's own country), then the node's ValidateObservations (the rules across figures, with the
    /// person's token: the node judges as it would a submit). Nothing is written.
    /// </summary>
    private static async Task JudgeAsync(PendingUpload upload, WebHost host, ObservationValidator validator, NodeCalls calls, CancellationToken cancellationToken)
    {
        var file = upload.File;
        upload.Problems.AddRange(file.Errors.Select(e => new UploadProblem(file.Locate(e), IsError: true)));
        if (upload.Problems.Count > 0)
        {
            return;
        }
        if (file.Observations.Count == 0)
        {
            upload.Problems.Add(Notice("upload.empty"));
            return;
        }
        var validation = validator.ValidateObservations(file.Observations, host.Country, DateOnly.FromDateTime(DateTime.UtcNow));
        upload.Problems.AddRange(validation.Violations.Select(v => new UploadProblem(file.Locate(v), IsError: true)));
        if (upload.Problems.Count > 0)
        {
            return;
        }
        var client = new ObservationService.ObservationServiceClient(calls.Invoker);
        try
        {
            var report = await client.ValidateObservationsAsync(new ValidateObservationsRequest { Observations = { file.Observations } }, await calls.OptionsAsync());
            foreach (var result in report.Results)
            {
                var problem = RuleProblem(file, result, validator.Catalogue);
                (problem.IsError ? upload.Problems : upload.Warnings).Add(problem);
            }
            var unlisted = report.ErrorCount + report.WarningCount - report.Results.Count;
            if (unlisted > 0)
            {
                upload.Problems.Add(new UploadProblem(new FileProblem(null, null, "", "file", $"and {unlisted} more validation rule results not listed")
                    { Spanish = $"y {unlisted} resultados más de las reglas de validación no listados" }, report.ErrorCount > 0));
            }
        }
        catch (RpcException e)
        {
            upload.Problems.AddRange(Refusal(file, e));
        }
    }

    /// <summary>A broken rule, at the first row of the file it involves, its message naming the file's rows.</summary>
    private static UploadProblem RuleProblem(ObservationFile file, ValidationResult result, MirpsExchange.Catalogue.StandardCatalogue catalogue)
    {
        var cell = result.LeftCells.Concat(result.RightCells).FirstOrDefault(c => c.HasObservationIndex);
        var field = cell is null ? "file" : $"observations[{cell.ObservationIndex}].value";
        // The rule's sentence, then the cells it compared, the file's by their place ("line 3"), the others stored or missing.
        string Cells(string missing, string stored) => string.Join("; ", result.LeftCells.Concat(result.RightCells).Select(c =>
            $"{(c.Subtracted ? "-" : "")}{MirpsExchange.Catalogue.ObservationKeys.Describe(c.Key)} = {c.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)} "
            + $"({(c.Missing ? missing : c.HasObservationIndex ? $"observations[{c.ObservationIndex}]" : stored)})"));
        // In Spanish: the catalogue's name of the rule and the comparison that failed (the English sentence is the node's).
        var name = catalogue.Catalog.ValidationRules.FirstOrDefault(r => r.Id == result.RuleId)?.Name.Es is { Length: > 0 } es ? $"«{es}» ({result.RuleId})" : result.RuleId;
        var comparison = result.Operator == Mirps.Catalog.V1.RuleOperator.LessThanOrEqual ? "≤" : "=";
        var spanish = $"regla {name}: {result.IndicatorCode} {result.Country} {result.Period}, {Number(result.LeftValue)} {comparison} {Number(result.RightValue)} no se cumple. "
            + $"Celdas: {Cells("falta", "ya almacenada")}";
        return new UploadProblem(file.Locate(new Violation(field, $"{result.Message}. Cells: {Cells("missing", "stored")}", spanish)), result.Severity == Mirps.Catalog.V1.RuleSeverity.Error);
    }

    private static string Number(double value) => value.ToString("#,0.##", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A node's refusal: its field violations located in the file, or its message.</summary>
    private static IEnumerable<UploadProblem> Refusal(ObservationFile file, RpcException e)
    {
        var violations = e.GetRpcStatus()?.GetDetail<BadRequest>()?.FieldViolations;
        if (violations is { Count: > 0 })
        {
            return violations.Select(v => new UploadProblem(file.Locate(new Violation(v.Field, v.Description)), IsError: true));
        }
        return [new UploadProblem(new FileProblem(null, null, "", "file", $"{e.StatusCode}: {e.Status.Detail}"), IsError: true, "upload.refused")];
    }

    private static UploadProblem Notice(string key) => new(new FileProblem(null, null, "", "file", ""), IsError: true, key);

    private static bool IsCsv(string name) => name.EndsWith(".csv", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".txt", StringComparison.OrdinalIgnoreCase);

    private static bool IsXlsx(string name) => name.EndsWith(".xlsx", StringComparison.OrdinalIgnoreCase);

    [LoggerMessage(EventName = "WebUploadRefused", Level = LogLevel.Warning, Message = "A web upload post was refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);

    [LoggerMessage(EventName = "WebUploadBusy", Level = LogLevel.Warning,
        Message = "An upload by {UserName} was answered 429: {MaxReading} uploads are already being read")]
    private static partial void LogBusy(ILogger logger, string userName, int maxReading);

    [LoggerMessage(EventName = "WebUploadBusyAccount", Level = LogLevel.Warning,
        Message = "An upload by {UserName} was answered 429: the account already has {MaxPerAccount} uploads in progress")]
    private static partial void LogBusyAccount(ILogger logger, string userName, int maxPerAccount);

    [LoggerMessage(EventName = "WebUploadJudged", Level = LogLevel.Information,
        Message = "{UserName} uploaded {FileName}: {Rows} rows, {Problems} problems, {Warnings} warnings; nothing written")]
    private static partial void LogJudged(ILogger logger, string userName, string fileName, int rows, int problems, int warnings);

    [LoggerMessage(EventName = "WebUploadSubmitted", Level = LogLevel.Information,
        Message = "{UserName} submitted {FileName}: {Inserted} inserted, {Revised} revised, {Unchanged} unchanged (replayed: {Replayed})")]
    private static partial void LogSubmitted(ILogger logger, string userName, string fileName, int inserted, int revised, int unchanged, bool replayed);
}
