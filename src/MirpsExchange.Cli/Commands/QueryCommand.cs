using System.CommandLine;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Net.Client;
using Mirps.Catalog.V1;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Csv;
using MirpsExchange.Catalogue.Exports;
using Spectre.Console;

namespace MirpsExchange.Cli.Commands;

/// <summary>
/// <c>mirps query --node ADDRESS [filters] [--format table|csv|sdmx]</c>: ObservationService.StreamObservations
/// with the filters given, printed as a table for people or written as CSV / SDMX-CSV by the shared
/// <see cref="ExportWriter"/>, so a file from here is the same file every other export makes.
/// </summary>
public static partial class QueryCommand
{
    /// <summary>The command's help text, exit codes included.</summary>
    public const string Description =
        "Read observations from a node, filtered by indicator, country, period and dimensions, as they are now or as they were "
        + "at a past time (--as-of). Values the node withholds from you under the owner State's sharing policy (small counts, and values that would give one away by subtraction) "
        + "are shown as withheld, never as 0. Exit codes: 0 done (also when nothing matches). 1 query refused (a filter the node "
        + "does not accept, each one named; or --out in a folder that does not exist). 2 no token (missing credential file, "
        + "wrong secret), node unreachable, this credential may not read the node, or another failure.";

    /// <summary>
    /// Most rows a table shows: a table is laid out whole before it is printed, so a large result is a file's
    /// job (CSV and SDMX-CSV stream row by row).
    /// </summary>
    public const int TableRowLimit = 2_000;

    private const string Withheld = "(withheld)";
    private const string TimeFormat = "yyyy-MM-dd HH:mm:ss.ffffff'Z'";

    public static Command Create()
    {
        var reader = new NodeReader();
        var indicators = Codes("--indicator", "CODE", "Indicator code from the catalogue, such as REFUGEES or ASYLUM_APPLICATIONS", dimension: false);
        var countries = Codes("--country", "ISO3", "Reporting State: BLZ, CRI, SLV, GTM, HND, MEX or PAN", dimension: false);
        var periodFrom = Period("--period-from", "First period to include: a year (2023), a quarter (2023-Q1) or a month (2023-01); periods starting earlier are left out");
        var periodTo = Period("--period-to", "Last period to include (same forms); periods ending later are left out, so 2023-Q1 to 2023 gives the quarters and months of 2023 and the year itself");
        var sexes = Codes("--sex", "CODE", "Sex: F, M or _T (total)", dimension: true);
        var ages = Codes("--age", "CODE", "Age band: Y0T4, Y5T11, Y12T17, Y18T59, Y_GE60, _U (unknown) or _T (total)", dimension: true);
        var origins = Codes("--origin", "CODE", "Country of origin: ISO3 (such as VEN), _U (unknown) or _T (total)", dimension: true);
        var applicationTypes = Codes("--application-type", "CODE", "Application type (catalogue 2.0): NEW, REPEAT, APPEAL or _T (total)", dimension: true);
        var decisionLevels = Codes("--decision-level", "CODE", "Decision level (catalogue 2.0): FIRST_INSTANCE, APPEAL or _T (total)", dimension: true);
        var procedureTypes = Codes("--procedure-type", "CODE", "Procedure type (catalogue 2.0): GOVERNMENT, JOINT, UNHCR or _T (total)", dimension: true);
        var countBases = Codes("--count-basis", "CODE", "What is counted (catalogue 2.0): PERSONS or CASES", dimension: true);
        var destinations = Codes("--destination", "CODE", "Country of destination (catalogue 2.0): ISO3, _U (unknown) or _T (total)", dimension: true);
        var asOf = AsOf();
        var format = new Option<string>("--format")
        {
            Description = "table: for reading on screen (at most " + TableRowLimit.ToString("N0", CultureInfo.InvariantCulture) + " rows). "
                + "csv: the standard CSV layout, which `mirps submit` reads back. sdmx: SDMX-CSV 2.0 for statistical tools. Withheld values are empty in csv and sdmx",
            DefaultValueFactory = _ => "table",
        };
        format.AcceptOnlyFromAmong("table", "csv", "sdmx");
        var labels = new Option<string?>("--labels")
        {
            Description = "Add the catalogue's names beside the codes, in English (en) or Spanish (es); a csv with labels is for people, not for `mirps submit`",
            HelpName = "en|es",
        };
        labels.AcceptOnlyFromAmong("en", "es");
        var output = new Option<FileInfo?>("--out")
        {
            Description = "Write to this file instead of the screen; an existing file is replaced only once the whole result has arrived",
            HelpName = "FILE",
        };
        var command = new Command("query", Description)
        {
            indicators, countries, periodFrom, periodTo, sexes, ages, origins, applicationTypes, decisionLevels, procedureTypes, countBases, destinations,
            asOf, format, labels, output,
        };
        foreach (var option in reader.Options)
        {
            command.Options.Add(option);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new StreamObservationsRequest
            {
                IndicatorCodes = { Split(parse.GetValue(indicators)) },
                Countries = { Split(parse.GetValue(countries)) },
                PeriodFrom = parse.GetValue(periodFrom) ?? "",
                PeriodTo = parse.GetValue(periodTo) ?? "",
                Sexes = { Split(parse.GetValue(sexes)) },
                Ages = { Split(parse.GetValue(ages)) },
                CountriesOfOrigin = { Split(parse.GetValue(origins)) },
                ApplicationTypes = { Split(parse.GetValue(applicationTypes)) },
                DecisionLevels = { Split(parse.GetValue(decisionLevels)) },
                ProcedureTypes = { Split(parse.GetValue(procedureTypes)) },
                CountBases = { Split(parse.GetValue(countBases)) },
                CountriesOfDestination = { Split(parse.GetValue(destinations)) },
                AsOfTime = parse.GetValue(asOf) is { } time ? Timestamp.FromDateTimeOffset(time) : null,
            };
            var language = parse.GetValue(labels) switch
            {
                "en" => ExportLabels.English,
                "es" => ExportLabels.Spanish,
                _ => ExportLabels.None,
            };
            var exportFormat = parse.GetValue(format) switch
            {
                "csv" => (ExportFormat?)ExportFormat.Csv,
                "sdmx" => ExportFormat.SdmxCsv,
                _ => null,
            };
            var file = parse.GetValue(output);
            var error = parse.InvocationConfiguration.Error;
            if (file?.Directory is { Exists: false } folder)
            {
                await error.WriteLineAsync($"error: --out {file.FullName}: the folder {folder.FullName} does not exist");
                return CliApp.Refused;
            }
            return await reader.RunAsync(parse,
                (node, channel) => RunAsync(node, channel, request, exportFormat, language, file, parse.InvocationConfiguration.Output, error, cancellationToken),
                field => OptionOf(field, request), cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(Uri node, GrpcChannel channel, StreamObservationsRequest request, ExportFormat? format, ExportLabels labels,
        FileInfo? file, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        // The node's own catalogue: its labels, and the version an SDMX file names, are those the data were validated with.
        var catalog = await new CatalogService.CatalogServiceClient(channel)
            .GetCatalogAsync(new GetCatalogRequest(), deadline: DateTime.UtcNow.Add(NodeReader.CallTimeout), cancellationToken: cancellationToken);
        var catalogue = new StandardCatalogue(catalog.Catalog);
        var client = new ObservationService.ObservationServiceClient(channel);
        var rows = Stream(client, request, cancellationToken);
        if (file is null)
        {
            await WriteAsync(output, rows, catalogue, format, labels, cancellationToken);
            return CliApp.Ok;
        }

        // Written beside the target, then moved over it: a failed query leaves the previous file as it was.
        var temporary = Path.Combine(file.DirectoryName!, $".{file.Name}.{Guid.NewGuid():N}.partial");
        try
        {
            int count;
            await using (var writer = new StreamWriter(temporary, append: false, ExportWriter.Utf8))
            {
                count = await WriteAsync(writer, rows, catalogue, format, labels, cancellationToken);
            }
            File.Move(temporary, file.FullName, overwrite: true);
            await output.WriteLineAsync($"Wrote {count} observation{(count == 1 ? "" : "s")} from {node} to {file.FullName}");
            return CliApp.Ok;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"error: could not write {file.FullName}: {NodeReader.OneLine(e.Message)}");
            return CliApp.Failed;
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Writes the result in the format asked for; returns how many observations it held.</summary>
    private static async Task<int> WriteAsync(TextWriter writer, IAsyncEnumerable<StoredObservation> rows, StandardCatalogue catalogue,
        ExportFormat? format, ExportLabels labels, CancellationToken cancellationToken)
    {
        var count = 0;
        if (format is { } export)
        {
            async IAsyncEnumerable<ExportRow> Counted()
            {
                await foreach (var stored in rows)
                {
                    count++;
                    yield return Row(stored);
                }
            }
            await new ExportWriter(catalogue, new ExportOptions(export, labels)).WriteAsync(writer, Counted(), cancellationToken);
            return count;
        }

        var table = new Table();
        table.AddColumn("Indicator");
        if (labels != ExportLabels.None)
        {
            table.AddColumn(labels == ExportLabels.Spanish ? "Nombre" : "Name");
        }
        table.AddColumns("Country", "Period", "Sex", "Age", "Country of origin", "Other dimensions");
        table.AddColumn(new TableColumn("Value").RightAligned());
        table.AddColumn("Status");
        table.AddColumn("Flags");
        table.AddColumn(new TableColumn("Revision").RightAligned());
        table.AddColumn("Recorded (UTC)");
        var withheld = 0;
        await foreach (var stored in rows)
        {
            withheld += stored.Withholding.IsValueWithheld() ? 1 : 0;
            if (++count > TableRowLimit)
            {
                continue; // counted, so the note below can say how many were left out
            }
            var o = stored.Observation;
            string[] cells =
            [
                o.IndicatorCode,
                .. labels == ExportLabels.None ? Array.Empty<string>() : [IndicatorName(catalogue, o.IndicatorCode, labels)],
                o.Country, o.Period, Dimension(o.Sex), Dimension(o.Age), Dimension(o.CountryOfOrigin),
                Mirps.Log.AddedDimensions.Of(o).ToString() is { Length: > 0 } added ? added : "-",
                stored.Withholding.IsValueWithheld() ? Withheld : (o.LowerBound ? "≥ " : "") + o.Value.ToString("#,0.###", CultureInfo.InvariantCulture),
                ObservationCsv.FormatStatus(o.Status),
                Flags(o),
                stored.Revision.ToString(CultureInfo.InvariantCulture),
                stored.RecordedTime?.ToDateTimeOffset().ToString(TimeFormat, CultureInfo.InvariantCulture) ?? "",
            ];
            table.AddRow([.. cells.Select(Markup.Escape)]);
        }
        if (count == 0)
        {
            await writer.WriteLineAsync("No observations match the query.");
            return 0;
        }
        CommonOptions.Console(writer, minimumWidth: 200).Write(table);
        await writer.WriteLineAsync(count > TableRowLimit
            ? $"{count} observations; the first {TableRowLimit} are shown: use --format csv --out FILE for all of them"
            : $"{count} observation{(count == 1 ? "" : "s")}");
        if (withheld > 0)
        {
            await writer.WriteLineAsync($"{Withheld}: {withheld} value{(withheld == 1 ? "" : "s")} the node withholds from this credential under the owner State's sharing policy (small counts, and values that would give one away by subtraction)");
        }
        return count;
    }

    /// <summary>An observation as an export row; a withheld value stays missing (empty), never the 0 the message carries.</summary>
    private static ExportRow Row(StoredObservation stored) => stored.Withholding.IsValueWithheld()
        ? ExportRow.From(stored.Observation) with { Value = null, Status = ObservationStatus.Confidential }
        : ExportRow.From(stored.Observation);

    private static async IAsyncEnumerable<StoredObservation> Stream(ObservationService.ObservationServiceClient client, StreamObservationsRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var call = client.StreamObservations(request, cancellationToken: cancellationToken);
        await foreach (var message in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            foreach (var stored in message.Observations)
            {
                if (stored.Observation is not null)
                {
                    yield return stored;
                }
            }
        }
    }

    private static string Dimension(string code) => code.Length > 0 ? code : "-";

    /// <summary>Catalogue 2.0's attributes in words: "lower bound", "synthetic", the confidentiality when not free.</summary>
    internal static string Flags(Observation o) => string.Join(", ", new[]
    {
        o.LowerBound ? "lower bound" : "",
        o.Synthetic ? "synthetic" : "",
        o.Confidentiality is ConfidentialityStatus.NotForPublication or ConfidentialityStatus.Confidential
            ? ObservationCsv.FormatConfidentiality(o.Confidentiality).Replace('_', ' ').ToLowerInvariant() : "",
    }.Where(f => f.Length > 0)) is { Length: > 0 } flags ? flags : "-";

    private static string IndicatorName(StandardCatalogue catalogue, string code, ExportLabels labels)
    {
        if (catalogue.FindIndicator(code)?.Indicator.Name is not { } name)
        {
            return "";
        }
        var (first, second) = labels == ExportLabels.Spanish ? (name.Es, name.En) : (name.En, name.Es);
        return first.Length > 0 ? first : second;
    }

    /// <summary>A repeatable code filter; each value may also list several codes separated by commas.</summary>
    private static Option<string[]> Codes(string name, string helpName, string description, bool dimension) => new(name)
    {
        Description = description + "; repeat the option or separate codes with commas for several"
            + (dimension ? "; \"\" selects the indicators that do not break down by this dimension" : "")
            + "; none: all",
        HelpName = helpName,
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>The codes given, split at commas, trimmed and upper-cased (every catalogue code is); "" stays "".</summary>
    private static IEnumerable<string> Split(string[]? values) =>
        (values ?? []).SelectMany(v => v.Length == 0 ? [""] : v.Split(',', StringSplitOptions.TrimEntries)).Select(c => c.ToUpperInvariant());

    private static Option<string?> Period(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "PERIOD",
        CustomParser = result => result.Tokens.Count == 1 ? result.Tokens[0].Value.Trim().ToUpperInvariant() : null,
    };

    private static Option<DateTimeOffset?> AsOf() => new("--as-of")
    {
        Description = "Give the values as the node knew them at this time, before later revisions and deletions: ISO 8601, "
            + "such as 2024-03-31 (midnight UTC) or 2024-03-31T18:00:00-06:00; without an offset the time is UTC. Default: now",
        HelpName = "TIME",
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value.Trim() : "";
            // ISO 8601 only: "01/02/2024" means a different day in Panama than in the invariant culture.
            if (IsoDate().IsMatch(text)
                && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
            {
                return time;
            }
            result.AddError($"--as-of must be an ISO 8601 time such as 2024-03-31 or 2024-03-31T18:00:00Z, not '{text}'");
            return null;
        },
    };

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:\d{2})?$")]
    private static partial Regex IsoDate();

    /// <summary>
    /// A field violation's path as the option a person typed: "sexes[1]" becomes "--sex X (sexes[1])", so
    /// the error points at the command line rather than at the protobuf message.
    /// </summary>
    private static string OptionOf(string field, StreamObservationsRequest request)
    {
        var match = FieldPath().Match(field);
        if (!match.Success)
        {
            return field;
        }
        var (option, values) = match.Groups[1].Value switch
        {
            "indicator_codes" => ("--indicator", request.IndicatorCodes),
            "countries" => ("--country", request.Countries),
            "sexes" => ("--sex", request.Sexes),
            "ages" => ("--age", request.Ages),
            "countries_of_origin" => ("--origin", request.CountriesOfOrigin),
            "application_types" => ("--application-type", request.ApplicationTypes),
            "decision_levels" => ("--decision-level", request.DecisionLevels),
            "procedure_types" => ("--procedure-type", request.ProcedureTypes),
            "count_bases" => ("--count-basis", request.CountBases),
            "countries_of_destination" => ("--destination", request.CountriesOfDestination),
            "period_from" => ("--period-from", null),
            "period_to" => ("--period-to", null),
            "as_of_time" => ("--as-of", (IList<string>?)null),
            _ => (null, null),
        };
        if (option is null)
        {
            return field;
        }
        var value = match.Groups[2].Success && values is not null && int.TryParse(match.Groups[2].Value, out var index) && index < values.Count
            ? $" '{values[index]}'"
            : match.Groups[1].Value == "period_from" ? $" '{request.PeriodFrom}'"
            : match.Groups[1].Value == "period_to" ? $" '{request.PeriodTo}'"
            : "";
        return $"{option}{value} ({field})";
    }

    [GeneratedRegex(@"^([a-z_]+)(?:\[(\d+)\])?$")]
    private static partial Regex FieldPath();
}
