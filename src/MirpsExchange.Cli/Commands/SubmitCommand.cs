using System.CommandLine;
using System.Text.RegularExpressions;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Csv;
using MirpsExchange.Catalogue.Validation;

namespace MirpsExchange.Cli.Commands;

/// <summary><c>mirps submit FILE --node ADDRESS</c>: validate a CSV file in the standard layout, then submit it in batches.</summary>
public static partial class SubmitCommand
{
    public static Command Create()
    {
        var file = new Argument<FileInfo>("file") { Description = "CSV file in the standard layout (protos/README.md): indicator_code,country,period,sex,age,country_of_origin,value,status,note" };
        var node = CommonOptions.Node();
        var batchSize = new Option<int>("--batch-size") { Description = "Observations per call (1 to 10000)", DefaultValueFactory = _ => ObservationValidator.MaxBatchSize };
        var dryRun = new Option<bool>("--dry-run") { Description = "Only validate the file against the catalogue; send nothing" };
        var command = new Command("submit", "Validate a CSV file of observations and submit it to a node") { file, node, batchSize, dryRun };
        command.SetAction((parse, cancellationToken) => RunAsync(
            parse.GetRequiredValue(file), parse.GetRequiredValue(node), parse.GetValue(batchSize), parse.GetValue(dryRun),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, cancellationToken));
        return command;
    }

    public static async Task<int> RunAsync(FileInfo file, Uri node, int batchSize, bool dryRun, TextWriter output, TextWriter error, CancellationToken cancellationToken)
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
        CsvBatch csv;
        using (var reader = file.OpenText())
        {
            csv = ObservationCsv.Read(reader);
        }
        if (csv.Errors.Count > 0)
        {
            await Report(error, file.Name, csv.Errors.Select(e => e.ToString()));
            return CliApp.Refused;
        }

        // The same rules the node applies, so a bad file is refused before anything is sent.
        var validator = new ObservationValidator(StandardCatalogue.LoadStandard());
        var validation = validator.ValidateObservations(csv.Observations, nodeCountry: null, DateOnly.FromDateTime(DateTime.UtcNow));
        if (!validation.IsValid)
        {
            // A file larger than one batch is validated whole; only the batch-size rule does not apply to it.
            var problems = validation.Violations.Where(v => v.Field != "observations").ToList();
            if (problems.Count > 0 || csv.Observations.Count <= ObservationValidator.MaxBatchSize)
            {
                await Report(error, file.Name, problems.Select(v => Describe(v.Field, v.Description, csv.Lines, 0)));
                return CliApp.Refused;
            }
        }
        if (dryRun)
        {
            await output.WriteLineAsync($"{file.Name}: {csv.Observations.Count} observations are valid against catalogue {validator.Catalogue.Version}");
            return CliApp.Ok;
        }

        using var channel = GrpcChannel.ForAddress(node);
        var client = new ObservationService.ObservationServiceClient(channel);
        int inserted = 0, revised = 0, unchanged = 0;
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
            }
            catch (RpcException e)
            {
                await error.WriteLineAsync($"error: {node} refused lines {csv.Lines[start]}-{csv.Lines[Math.Min(start + batchSize, csv.Observations.Count) - 1]} ({e.StatusCode}): {e.Status.Detail}");
                var violations = e.GetRpcStatus()?.GetDetail<BadRequest>()?.FieldViolations ?? [];
                await Report(error, file.Name, violations.Select(v => Describe(v.Field, v.Description, csv.Lines, start)));
                if (start > 0)
                {
                    await error.WriteLineAsync($"note: the {start} observations before line {csv.Lines[start]} were written; the refused batch and the rest were not");
                }
                return e.StatusCode == StatusCode.InvalidArgument ? CliApp.Refused : CliApp.Failed;
            }
        }
        await output.WriteLineAsync($"{file.Name}: {csv.Observations.Count} observations submitted to {node}: {inserted} inserted, {revised} revised, {unchanged} unchanged");
        return CliApp.Ok;
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

    /// <summary>"observations[3].period" becomes "line 5, period" using the line each row started on.</summary>
    private static string Describe(string field, string description, IReadOnlyList<int> lines, int offset)
    {
        var match = RowField().Match(field);
        if (match.Success && int.TryParse(match.Groups[1].Value, out var row) && offset + row < lines.Count)
        {
            var column = match.Groups[2].Value.TrimStart('.');
            return $"line {lines[offset + row]}{(column.Length > 0 ? ", " + column : "")}: {description}";
        }
        return $"{field}: {description}";
    }

    private static async Task Report(TextWriter error, string fileName, IEnumerable<string> problems)
    {
        foreach (var problem in problems)
        {
            await error.WriteLineAsync($"{fileName}: {problem}");
        }
    }

    [GeneratedRegex(@"^observations\[(\d+)\](.*)$")]
    private static partial Regex RowField();
}
