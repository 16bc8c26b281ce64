using System.CommandLine;
using System.Text.RegularExpressions;
using Google.Rpc;
using Grpc.Core;
using Mirps.Auth;
using MirpsExchange.Cli.Federation;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Csv;
using MirpsExchange.Catalogue.Validation;

namespace MirpsExchange.Cli.Commands;

/// <summary><c>mirps submit FILE --node ADDRESS</c>: validate a CSV file in the standard layout, then submit it in batches.</summary>
public static partial class SubmitCommand
{
    /// <summary>The command's help text, exit codes included.</summary>
    public const string Description =
        "Validate a CSV file or xlsx workbook of observations and submit it to a node in batches. Exit codes: 0 done. "
        + "1 input refused; batches before the refused one were written, as the error says. 2 node unreachable or failed.";

    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "CSV file, or xlsx workbook (.xlsx, as mirps template makes it), in the standard layout (protos/README.md): indicator_code,country,period,sex,age,country_of_origin,value,status,note, and catalogue 2.0's application_type,decision_level,procedure_type,count_basis,country_of_destination,lower_bound,confidentiality,synthetic when used" };
        var node = CommonOptions.Node();
        var identity = CommonOptions.Identity();
        var credential = CommonOptions.Credential();
        var tokenFile = CommonOptions.TokenFile();
        var ca = CommonOptions.Ca();
        var clientCertificate = CommonOptions.ClientCertificate();
        var clientKey = CommonOptions.ClientKey();
        var batchSize = new Option<int>("--batch-size") { Description = "Observations per call (1 to 10000)", DefaultValueFactory = _ => ObservationValidator.MaxBatchSize };
        var dryRun = new Option<bool>("--dry-run") { Description = "Validate the file against the catalogue, then have the node judge its validation rules over its current values (ValidateObservations) and print the report; write nothing" };
        var command = new Command("submit", Description) { file, node, identity, credential, tokenFile, ca, clientCertificate, clientKey, batchSize, dryRun };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var error = parse.InvocationConfiguration.Error;
            Caller access;
            ClientTls tls;
            try
            {
                access = CommonOptions.ResolveCaller(parse, credential, tokenFile);
                tls = CommonOptions.LoadTls(parse, ca, clientCertificate, clientKey);
            }
            catch (Exception e) when (e is IOException or InvalidDataException)
            {
                await error.WriteLineAsync($"error: {e.Message}");
                return CliApp.Failed;
            }
            using (tls)
            {
                return await RunAsync(parse.GetRequiredValue(file), parse.GetRequiredValue(node), parse.GetRequiredValue(identity), access,
                    parse.GetValue(batchSize), parse.GetValue(dryRun), parse.InvocationConfiguration.Output, error, cancellationToken, tls);
            }
        });
        return command;
    }

    /// <summary>
    /// Validates <paramref name="file"/>, then (unless a dry run) submits it with tokens for <paramref name="caller"/> (a credential's
    /// from the identity server, or a person's login token); https servers are verified, and the client certificate presented, as <paramref name="tls"/> says.
    /// </summary>
    public static async Task<int> RunAsync(FileInfo file, Uri node, Uri identity, Caller caller, int batchSize, bool dryRun,
        TextWriter output, TextWriter error, CancellationToken cancellationToken, ClientTls? tls = null)
    {
        if (!file.Exists)
        {
            await error.WriteLineAsync($"error: {file.FullName} does not exist");
            return CliApp.Refused;
        }
        if (batchSize is < 1 or > ObservationValidator.MaxBatchSize)
        {
            await error.WriteLineAsync($"error: --batch-size must be between 1 and {ObservationValidator.MaxBatchSize}");
            return CliApp.Refused;
        }
        var csv = ReadFile(file);
        if (csv.Errors.Count > 0)
        {
            await Report(error, file.Name, csv.Errors.Select(e => e.ToString()));
            return CliApp.Refused;
        }

        // The same rules the node applies, to every row of the file and to keys repeated anywhere in it (a
        // key repeated in a later batch would silently revise the first), so a bad file is refused before
        // anything is sent. Only the batch-size rule does not apply: the file is sent in batches.
        var validator = new ObservationValidator(StandardCatalogue.LoadStandard());
        var validation = validator.ValidateAllObservations(csv.Observations, nodeCountry: null, DateOnly.FromDateTime(DateTime.UtcNow));
        if (!validation.IsValid)
        {
            await Report(error, file.Name, validation.Violations.Select(v => csv.Locate(v).ToString()));
            return CliApp.Refused;
        }

        using var http = CommonOptions.HttpClient(tls);
        using var tokens = caller.Tokens(http, identity, $"{MirpsAuth.ReadScope} {MirpsAuth.SubmitScope}", audience: null);
        try
        {
            await tokens.GetTokenAsync(cancellationToken);
        }
        catch (LoginTokenException e)
        {
            await error.WriteLineAsync($"error: {e.Message}");
            return CliApp.Failed;
        }
        catch (Exception e) when (e is TokenRequestException or HttpRequestException or System.Text.Json.JsonException)
        {
            await error.WriteLineAsync($"error: no token from the identity server at {identity} for {caller.Name}: {e.Message}");
            return CliApp.Failed;
        }
        using var channel = CommonOptions.AuthenticatedChannel(node, tokens, tls);
        var client = new ObservationService.ObservationServiceClient(channel);
        if (dryRun)
        {
            return await DryRunAsync(client, csv, file.Name, node, batchSize, validator.Catalogue.Version, output, error, cancellationToken);
        }
        int inserted = 0, revised = 0, unchanged = 0, warnings = 0;
        for (var start = 0; start < csv.Observations.Count; start += batchSize)
        {
            var request = new SubmitObservationsRequest
            {
                RequestId = Guid.NewGuid().ToString(),
                Observations = { csv.Observations.Skip(start).Take(batchSize) },
            };
            try
            {
                var response = await SendAsync(client, request, cancellationToken);
                inserted += response.Inserted;
                revised += response.Revised;
                unchanged += response.Unchanged;
                warnings += response.WarningCount;
                await PrintResultsAsync(output, file.Name, response.Warnings, csv.Places, start);
                if (response.WarningCount > response.Warnings.Count)
                {
                    await output.WriteLineAsync($"{file.Name}: and {response.WarningCount - response.Warnings.Count} more warnings in {Span(csv, start, batchSize)} (mirps submit --dry-run lists them)");
                }
            }
            catch (RpcException e)
            {
                await error.WriteLineAsync($"error: {node} refused {Span(csv, start, batchSize)} ({e.StatusCode}): {e.Status.Detail}");
                var violations = e.GetRpcStatus()?.GetDetail<BadRequest>()?.FieldViolations ?? [];
                await Report(error, file.Name, violations.Select(v => csv.Locate(new Violation(v.Field, v.Description), start).ToString()));
                if (start > 0)
                {
                    await error.WriteLineAsync($"note: the {start} observations before {csv.Places[start]} were written; the refused batch and the rest were not");
                }
                return e.StatusCode == StatusCode.InvalidArgument ? CliApp.Refused : CliApp.Failed;
            }
        }
        await output.WriteLineAsync($"{file.Name}: {csv.Observations.Count} observations submitted to {node}: {inserted} inserted, {revised} revised, {unchanged} unchanged" +
            (warnings > 0 ? $"; {warnings} validation warning(s)" : "") + Skipped(csv));
        return CliApp.Ok;
    }

    /// <summary>What the reader left out: an xlsx template's rows without a value.</summary>
    private static string Skipped(ObservationFile file) => file.Skipped > 0 ? $"; {file.Skipped} row(s) without a value skipped" : "";

    /// <summary>The rows of the batch from <paramref name="start"/>: "line 2 to line 9", or "sheet 'Poblaciones', row 4 to sheet 'Poblaciones', row 9".</summary>
    private static string Span(ObservationFile file, int start, int batchSize) =>
        $"{file.Places[start]} to {file.Places[Math.Min(start + batchSize, file.Observations.Count) - 1]}";

    /// <summary>Reads a CSV file in the standard layout, or an xlsx workbook (by its extension: the template of <c>mirps template</c>).</summary>
    public static ObservationFile ReadFile(FileInfo file)
    {
        if (file.Extension.Equals(".xlsx", StringComparison.OrdinalIgnoreCase))
        {
            using var stream = file.OpenRead();
            return MirpsExchange.Catalogue.Spreadsheets.ObservationXlsx.Read(stream);
        }
        using var reader = file.OpenText();
        return ObservationCsv.Read(reader);
    }

    /// <summary>
    /// Each batch judged by the node (ValidateObservations: the catalogue's rules over its current values with the
    /// batch applied), the report printed, nothing written. Batches of a file over one batch are judged each over
    /// the node's values as they are, without the file's earlier batches (which a submit would have written).
    /// </summary>
    private static async Task<int> DryRunAsync(ObservationService.ObservationServiceClient client, ObservationFile csv, string fileName, Uri node, int batchSize,
        string catalogueVersion, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        int errors = 0, warnings = 0;
        for (var start = 0; start < csv.Observations.Count; start += batchSize)
        {
            var request = new ValidateObservationsRequest { Observations = { csv.Observations.Skip(start).Take(batchSize) } };
            ValidateObservationsResponse response;
            try
            {
                response = await client.ValidateObservationsAsync(request, deadline: DateTime.UtcNow.AddMinutes(2), cancellationToken: cancellationToken);
            }
            catch (RpcException e)
            {
                await error.WriteLineAsync($"error: {node} refused to judge {Span(csv, start, batchSize)} ({e.StatusCode}): {e.Status.Detail}");
                var violations = e.GetRpcStatus()?.GetDetail<BadRequest>()?.FieldViolations ?? [];
                await Report(error, fileName, violations.Select(v => csv.Locate(new Violation(v.Field, v.Description), start).ToString()));
                return e.StatusCode == StatusCode.InvalidArgument ? CliApp.Refused : CliApp.Failed;
            }
            await PrintResultsAsync(output, fileName, response.Results, csv.Places, start);
            if (response.ErrorCount + response.WarningCount > response.Results.Count)
            {
                await output.WriteLineAsync($"{fileName}: and {response.ErrorCount + response.WarningCount - response.Results.Count} more results not listed for {Span(csv, start, batchSize)}");
            }
            errors += response.ErrorCount;
            warnings += response.WarningCount;
        }
        await output.WriteLineAsync($"{fileName}: {csv.Observations.Count} observations are valid against catalogue {catalogueVersion}; " +
            $"validation rules at {node}: {errors} error(s), {warnings} warning(s). Dry run: nothing was written{Skipped(csv)}.");
        return errors > 0 ? CliApp.Refused : CliApp.Ok;
    }

    /// <summary>Each broken rule: its severity and sentence, then its cells, the file's by line.</summary>
    private static async Task PrintResultsAsync(TextWriter output, string fileName, IEnumerable<ValidationResult> results, IReadOnlyList<string> lines, int offset)
    {
        foreach (var result in results)
        {
            var severity = result.Severity == Mirps.Catalog.V1.RuleSeverity.Error ? "error" : "warning";
            await output.WriteLineAsync($"{fileName}: {severity}: {RowReference().Replace(result.Message, m => lines[offset + int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)])}");
            foreach (var (cell, side) in result.LeftCells.Select(c => (c, "left")).Concat(result.RightCells.Select(c => (c, "right"))))
            {
                var k = cell.Key;
                var where = cell.Missing ? "missing, counted as 0" : cell.HasObservationIndex ? lines[offset + cell.ObservationIndex] : "stored";
                var key = MirpsExchange.Catalogue.ObservationKeys.Describe(k);
                await output.WriteLineAsync($"    {side,-5} {(cell.Subtracted ? "-" : " ")}{key} = {cell.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)} ({where})");
            }
        }
    }

    /// <summary>Sends one batch, retrying a transient failure with the same request_id so the node applies it once.</summary>
    private static async Task<SubmitObservationsResponse> SendAsync(ObservationService.ObservationServiceClient client, SubmitObservationsRequest request, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await client.SubmitObservationsAsync(request, deadline: DateTime.UtcNow.AddMinutes(2), cancellationToken: cancellationToken);
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded && attempt < 4)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250 * Math.Pow(2, attempt)), cancellationToken);
            }
        }
    }

    private static async Task Report(TextWriter error, string fileName, IEnumerable<string> problems)
    {
        foreach (var problem in problems)
        {
            await error.WriteLineAsync($"{fileName}: {problem}");
        }
    }

    [GeneratedRegex(@"\bobservations\[(\d+)\]")]
    private static partial Regex RowReference();
}
