using System.CommandLine;
using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Grpc.Net.Client;
using Mirps.Auth;
using Mirps.Catalog.V1;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Exports;
using MirpsExchange.Catalogue.Periods;
using Spectre.Console;

namespace MirpsExchange.Cli.Commands;

/// <summary>
/// <c>mirps regional show|completeness|export</c>: the Secretariat's regional indicators for statisticians,
/// read from the Secretariat's node (the RegionalService) with the Secretariat's credential.
/// </summary>
public static class RegionalCommand
{
    private const string Exits = " Exit codes: 0 done; 1 request refused (the reason is printed); 2 the Secretariat could not be reached or failed.";

    public static Command Create()
    {
        var command = new Command("regional", "Regional indicators from the Secretariat's node: totals with breakdowns, completeness, exports");
        command.Subcommands.Add(Show());
        command.Subcommands.Add(Completeness());
        command.Subcommands.Add(Export());
        command.Subcommands.Add(Validate());
        command.Subcommands.Add(RegionalVerify.Create());
        command.Subcommands.Add(Timeliness());
        return command;
    }

    /// <summary><c>mirps regional timeliness --from 2023-Q1 --to 2023-Q4</c>: each State's approvals against the reporting calendar, and its timeliness rate.</summary>
    private static Command Timeliness()
    {
        var connection = Connection.Create();
        var countries = new Option<string[]>("--country") { Description = "States (ISO3, repeatable); default: every State", AllowMultipleArgumentsPerToken = true };
        var groups = new Option<string[]>("--group") { Description = "Indicator groups (repeatable); default: every group the calendar has", AllowMultipleArgumentsPerToken = true };
        var from = new Option<string>("--from") { Description = "First period, e.g. 2023-Q1", Required = true };
        var to = new Option<string?>("--to") { Description = "Last period (default: --from)" };
        var command = new Command("timeliness", "Each State's approvals against the Secretariat's reporting calendar: on time, late by N days, overdue or not due, " +
            "and its timeliness rate (on time / due)." + Exits) { countries, groups, from, to };
        connection.AddTo(command);
        command.SetAction((parse, cancellationToken) => connection.RunAsync(parse, async (regional, _) =>
        {
            var first = parse.GetRequiredValue(from);
            var response = await regional.GetTimelinessAsync(new GetTimelinessRequest
            {
                Countries = { parse.GetValue(countries) ?? [] }, GroupIds = { parse.GetValue(groups) ?? [] }, PeriodFrom = first, PeriodTo = parse.GetValue(to) ?? first,
                AsOfTime = connection.AsOfTime(parse),
            }, cancellationToken: cancellationToken);
            var output = parse.InvocationConfiguration.Output;
            foreach (var state in response.States)
            {
                var rate = state.HasRate ? $"{state.Rate:P0}" : "nothing due";
                await output.WriteLineAsync($"{state.Country}: timeliness {rate} ({state.OnTimeCount} on time, {state.LateCount} late, {state.OverdueCount} overdue of {state.DueCount} due)");
            }
            foreach (var cell in response.Cells)
            {
                var judged = cell.Timeliness switch
                {
                    Mirps.Regional.V1.Timeliness.OnTime => "on time",
                    Mirps.Regional.V1.Timeliness.Late => $"late by {cell.DaysLate} days",
                    Mirps.Regional.V1.Timeliness.Overdue => $"overdue by {cell.DaysLate} days",
                    _ => "not due yet",
                };
                await output.WriteLineAsync($"  {cell.Country} {cell.GroupId} {cell.Period} due {cell.DueDate}: {judged}");
            }
            return CliApp.Ok;
        }, cancellationToken));
        return command;
    }

    /// <summary>Options every regional command takes: where the Secretariat is, who asks (see <see cref="NodeReader"/>), and as of when.</summary>
    private sealed class Connection
    {
        private readonly NodeReader _reader = new(CommonOptions.AddressOption("--secretariat", "MIRPS_SECRETARIAT", "http://127.0.0.1:5200", "Address of the Secretariat's node"), secretariat: true);

        private readonly Option<DateTimeOffset?> _asOf = new("--as-of")
        {
            Description = "Answer as the data stood at this time (ISO 8601, e.g. 2024-01-24T12:00:00Z), to reproduce a published figure; default: now",
        };

        public static Connection Create() => new();

        public void AddTo(Command command, bool asOf = true)
        {
            foreach (var option in _reader.Options)
            {
                command.Options.Add(option);
            }
            if (asOf)
            {
                command.Options.Add(_asOf);
            }
        }

        public Timestamp? AsOfTime(ParseResult parse) => parse.GetValue(_asOf) is { } time ? Timestamp.FromDateTimeOffset(time) : null;

        public Task<int> RunAsync(ParseResult parse, Func<RegionalService.RegionalServiceClient, GrpcChannel, Task<int>> call, CancellationToken cancellationToken) =>
            _reader.RunAsync(parse, (_, channel) => call(new RegionalService.RegionalServiceClient(channel), channel), field => field, cancellationToken);
    }

    private static Option<Breakdown> BreakdownOption() => new("--breakdown")
    {
        Description = "Cells by sex, age or origin (country of origin), or catalogue 2.0's application-type, decision-level, procedure-type, count-basis or destination; default: the total only",
        CustomParser = result => (result.Tokens.Count == 1 ? result.Tokens[0].Value : "") switch
        {
            "sex" => Breakdown.Sex,
            "age" => Breakdown.Age,
            "origin" or "country-of-origin" => Breakdown.CountryOfOrigin,
            "application-type" => Breakdown.ApplicationType,
            "decision-level" => Breakdown.DecisionLevel,
            "procedure-type" => Breakdown.ProcedureType,
            "count-basis" => Breakdown.CountBasis,
            "destination" or "country-of-destination" => Breakdown.CountryOfDestination,
            "" or "none" => Breakdown.Unspecified,
            var other => Invalid(result, $"--breakdown must be sex, age, origin, application-type, decision-level, procedure-type, count-basis, destination or none, not '{other}'", Breakdown.Unspecified),
        },
    };

    /// <summary><c>--lifecycle approved|accepted</c>: count only the States whose figures of the indicator's group and period are approved (or accepted).</summary>
    private static Option<LifecycleFilter> LifecycleOption() => new("--lifecycle")
    {
        Description = "Count only States whose figures of the indicator's group and period are approved (approved or accepted, not changed since) " +
            "or accepted by the Secretariat; default: every State's current figures, drafts included",
        CustomParser = result => (result.Tokens.Count == 1 ? result.Tokens[0].Value : "") switch
        {
            "approved" => LifecycleFilter.Approved,
            "accepted" => LifecycleFilter.Accepted,
            "" or "all" => LifecycleFilter.Unspecified,
            var other => Invalid(result, $"--lifecycle must be approved, accepted or all, not '{other}'", LifecycleFilter.Unspecified),
        },
    };

    private static T Invalid<T>(System.CommandLine.Parsing.ArgumentResult result, string message, T fallback)
    {
        result.AddError(message);
        return fallback;
    }

    private static Command Show()
    {
        var connection = Connection.Create();
        var indicator = new Argument<string>("indicator") { Description = "Indicator code, e.g. REFUGEES (`mirps regional show --help` lists none; see protos/README.md or the catalogue)" };
        var period = new Option<string>("--period") { Description = "Period: 2023, 2023-Q1 or 2023-01", Required = true };
        var breakdown = BreakdownOption();
        var lifecycle = LifecycleOption();
        var command = new Command("show", "The regional value of an indicator for a period, with its breakdown, the States that contributed or are missing, " +
            "the change against the previous period, and (for decisions) the recognition and total protection rates." + Exits)
        { indicator, period, breakdown, lifecycle };
        connection.AddTo(command);
        command.SetAction((parse, cancellationToken) => connection.RunAsync(parse, async (regional, _) =>
        {
            var asOf = connection.AsOfTime(parse);
            var request = new GetRegionalChangeRequest
            {
                IndicatorCode = parse.GetRequiredValue(indicator), Period = parse.GetRequiredValue(period), Breakdown = parse.GetValue(breakdown), Lifecycle = parse.GetValue(lifecycle),
            };
            if (asOf is not null)
            {
                request.AsOfTime = asOf;
            }
            var response = await regional.GetRegionalChangeAsync(request, cancellationToken: cancellationToken);
            var console = CommonOptions.Console(parse.InvocationConfiguration.Output, 140);
            var table = new Table().Title($"{response.IndicatorCode}, MIRPS region, {response.Period} (against {response.PreviousPeriod}) as of {response.AsOfTime.ToDateTimeOffset():yyyy-MM-dd HH:mm:ss}Z");
            table.AddColumn("Cell");
            table.AddColumn(new TableColumn(response.Period).RightAligned());
            table.AddColumn(new TableColumn(response.PreviousPeriod).RightAligned());
            table.AddColumn(new TableColumn("Change").RightAligned());
            table.AddColumn("Coverage");
            foreach (var change in response.Changes)
            {
                var cell = change.Current;
                table.AddRow(Markup.Escape(CellName(cell)), Markup.Escape(RegionalText.Value(cell)), Markup.Escape(RegionalText.Value(change.Previous)),
                    Markup.Escape(Change(change)), Markup.Escape(RegionalText.Coverage(cell, response.PendingChanges) + RegionalText.Lifecycle(cell.LifecycleStates)));
            }
            console.Write(table);
            foreach (var line in RegionalText.Pending(response.PendingChanges))
            {
                console.MarkupLine(Markup.Escape(line));
            }
            console.MarkupLine(Markup.Escape(RegionalText.Catalogues(response.ReportingCatalogs)));
            if (response.IndicatorCode.StartsWith("DECISIONS_", StringComparison.Ordinal))
            {
                var ratesRequest = new GetProtectionRatesRequest { Period = response.Period, Lifecycle = request.Lifecycle };
                if (asOf is not null)
                {
                    ratesRequest.AsOfTime = asOf;
                }
                var rates = await regional.GetProtectionRatesAsync(ratesRequest, cancellationToken: cancellationToken);
                console.MarkupLine(Markup.Escape($"Recognition rate: {RegionalText.Rate(rates.RecognitionRate)}; {RegionalText.Coverage(rates.RecognitionRate, rates.PendingChanges)}" +
                    RegionalText.Lifecycle(rates.RecognitionRate.LifecycleStates)));
                console.MarkupLine(Markup.Escape($"Total protection rate: {RegionalText.Rate(rates.TotalProtectionRate)}; {RegionalText.Coverage(rates.TotalProtectionRate, rates.PendingChanges)}" +
                    RegionalText.Lifecycle(rates.TotalProtectionRate.LifecycleStates)));
            }
            return CliApp.Ok;
        }, cancellationToken));
        return command;
    }

    private static Command Completeness()
    {
        var connection = Connection.Create();
        var indicators = new Option<string[]>("--indicator") { Description = "Indicator codes (repeatable); default: every indicator reported at the granularity", AllowMultipleArgumentsPerToken = true };
        var from = new Option<string>("--from") { Description = "First period, e.g. 2022", Required = true };
        var to = new Option<string?>("--to") { Description = "Last period (default: --from)" };
        var command = new Command("completeness", "Who reported what: indicator × period × State, each reported, provisional or missing, with the time of the last change." + Exits)
        { indicators, from, to };
        connection.AddTo(command);
        command.SetAction((parse, cancellationToken) => connection.RunAsync(parse, async (regional, _) =>
        {
            var first = parse.GetRequiredValue(from);
            var request = new GetCompletenessRequest { PeriodFrom = first, PeriodTo = parse.GetValue(to) ?? first, Granularity = GranularityOf(first) };
            request.IndicatorCodes.Add(parse.GetValue(indicators) ?? []);
            if (connection.AsOfTime(parse) is { } asOf)
            {
                request.AsOfTime = asOf;
            }
            var response = await regional.GetCompletenessAsync(request, cancellationToken: cancellationToken);
            var states = response.Cells.Select(c => c.Country).Distinct().Order(StringComparer.Ordinal).ToList();
            var table = new Table().Title($"Completeness {request.PeriodFrom}..{request.PeriodTo} as of {response.AsOfTime.ToDateTimeOffset():yyyy-MM-dd HH:mm:ss}Z (✓ reported, p provisional, - missing)");
            table.AddColumn("Indicator");
            table.AddColumn("Period");
            foreach (var state in states)
            {
                table.AddColumn(new TableColumn(state).Centered());
            }
            foreach (var row in response.Cells.GroupBy(c => (c.IndicatorCode, c.Period)))
            {
                var byState = row.ToDictionary(c => c.Country, c => c.State);
                table.AddRow([row.Key.IndicatorCode, row.Key.Period, .. states.Select(s => RegionalText.Mark(byState.GetValueOrDefault(s)))]);
            }
            var console = CommonOptions.Console(parse.InvocationConfiguration.Output, 140);
            console.Write(table);
            foreach (var line in RegionalText.Pending(response.PendingChanges))
            {
                console.MarkupLine(Markup.Escape(line));
            }
            return CliApp.Ok;
        }, cancellationToken));
        return command;
    }

    private static Command Validate()
    {
        var connection = Connection.Create();
        var countries = new Option<string[]>("--country") { Description = "Reporting States (repeatable, ISO3); default: every State", AllowMultipleArgumentsPerToken = true };
        var from = new Option<string?>("--from") { Description = "Only results for periods from this one, e.g. 2022" };
        var to = new Option<string?>("--to") { Description = "Only results for periods up to this one" };
        var command = new Command("validate", "The catalogue's validation rules over every State's current figures at the Secretariat: each broken rule by State and period, " +
            "with both sides' values and cells. Exit code 0 also when rules are broken (the report is the answer)." + Exits)
        { countries, from, to };
        connection.AddTo(command, asOf: false);
        command.SetAction((parse, cancellationToken) => connection.RunAsync(parse, async (regional, _) =>
        {
            var request = new GetValidationReportRequest { PeriodFrom = parse.GetValue(from) ?? "", PeriodTo = parse.GetValue(to) ?? "" };
            request.Countries.Add(parse.GetValue(countries) ?? []);
            var response = await regional.GetValidationReportAsync(request, cancellationToken: cancellationToken);
            var output = parse.InvocationConfiguration.Output;
            foreach (var result in response.Results)
            {
                var severity = result.Severity == Mirps.Catalog.V1.RuleSeverity.Error ? "error" : "warning";
                await output.WriteLineAsync($"{result.Country} {result.Period} {severity}: {result.Message}");
            }
            var listed = response.Results.Count < response.ErrorCount + response.WarningCount ? $" ({response.Results.Count} listed)" : "";
            await output.WriteLineAsync($"Validation rules over the Secretariat's data: {response.ErrorCount} error(s), {response.WarningCount} warning(s){listed}");
            return CliApp.Ok;
        }, cancellationToken));
        return command;
    }

    private static Command Export()
    {
        var connection = Connection.Create();
        var periods = new Option<string[]>("--period") { Description = "Periods to export (repeatable), e.g. --period 2022 --period 2023", Required = true, AllowMultipleArgumentsPerToken = true };
        var indicators = new Option<string[]>("--indicator") { Description = "Indicator codes (repeatable); default: every additive indicator", AllowMultipleArgumentsPerToken = true };
        var breakdown = BreakdownOption();
        var lifecycle = LifecycleOption();
        var states = new Option<bool>("--states") { Description = "Export each State's observations as the Secretariat holds them instead of the regional totals" };
        var format = new Option<ExportFormat>("--format")
        {
            Description = "csv (the submit layout) or sdmx (SDMX-CSV 2.0)",
            CustomParser = result => (result.Tokens.Count == 1 ? result.Tokens[0].Value : "csv") switch
            {
                "csv" => ExportFormat.Csv,
                "sdmx" or "sdmx-csv" => ExportFormat.SdmxCsv,
                var other => Invalid(result, $"--format must be csv or sdmx, not '{other}'", ExportFormat.Csv),
            },
            DefaultValueFactory = _ => ExportFormat.Csv,
        };
        var labels = new Option<ExportLabels>("--labels")
        {
            Description = "Add English (en) or Spanish (es) labels beside the codes; default: codes only",
            CustomParser = result => (result.Tokens.Count == 1 ? result.Tokens[0].Value : "") switch
            {
                "en" => ExportLabels.English,
                "es" => ExportLabels.Spanish,
                "" or "none" => ExportLabels.None,
                var other => Invalid(result, $"--labels must be en, es or none, not '{other}'", ExportLabels.None),
            },
            DefaultValueFactory = _ => ExportLabels.None,
        };
        var output = new Option<FileInfo?>("--out") { Description = "File to write (default: standard output)" };
        var command = new Command("export", "Export regional totals (reference area MIRPS) or each State's data as CSV or SDMX-CSV 2.0. " +
            "A partial regional total (a State missing) is exported without a value, its note naming the missing States and the partial sum." + Exits)
        { periods, indicators, breakdown, lifecycle, states, format, labels, output };
        connection.AddTo(command);
        command.SetAction((parse, cancellationToken) => connection.RunAsync(parse, async (regional, channel) =>
        {
            var catalogue = StandardCatalogue.LoadStandard();
            var codes = parse.GetValue(indicators) is { Length: > 0 } given
                ? given
                : [.. catalogue.Catalog.Indicators.Where(i => i.Aggregation == AggregationRule.Sum).Select(i => i.Code)];
            var asOf = connection.AsOfTime(parse);
            List<ExportRow> rows;
            ExportProvenance? provenance = null;
            if (parse.GetValue(states))
            {
                if (parse.GetValue(lifecycle) != LifecycleFilter.Unspecified)
                {
                    await parse.InvocationConfiguration.Error.WriteLineAsync("error: --lifecycle filters regional totals; --states exports each State's observations as held");
                    return CliApp.Refused;
                }
                rows = await StateRowsAsync(channel, codes, parse.GetRequiredValue(periods), asOf, cancellationToken);
            }
            else
            {
                (rows, provenance) = await RegionalRowsAsync((request, token) => regional.GetRegionalValueAsync(request, cancellationToken: token).ResponseAsync,
                    catalogue, codes, parse.GetRequiredValue(periods), parse.GetValue(breakdown), asOf, cancellationToken, parse.GetValue(lifecycle));
            }
            var writer = new ExportWriter(catalogue, new ExportOptions(parse.GetValue(format), parse.GetValue(labels)));
            if (parse.GetValue(output) is { } file)
            {
                await using (var stream = file.Create())
                {
                    writer.Write(stream, rows);
                }
                await parse.InvocationConfiguration.Error.WriteLineAsync($"{rows.Count:N0} rows written to {file.FullName}");
                if (provenance is not null)
                {
                    await File.WriteAllTextAsync(RegionalVerify.ProvenanceFile(file.FullName), RegionalVerify.Json.Format(provenance), cancellationToken);
                    await parse.InvocationConfiguration.Error.WriteLineAsync($"the log heads the figures were computed from written to {RegionalVerify.ProvenanceFile(file.FullName)}");
                }
            }
            else
            {
                writer.Write(parse.InvocationConfiguration.Output, rows);
            }
            return CliApp.Ok;
        }, cancellationToken));
        return command;
    }

    /// <summary>The rows of a regional export and their provenance: <see cref="RegionalExport.RowsAsync"/> (shared with the web app).</summary>
    internal static Task<(List<ExportRow> Rows, ExportProvenance Provenance)> RegionalRowsAsync(
        Func<GetRegionalValueRequest, CancellationToken, Task<GetRegionalValueResponse>> answer, StandardCatalogue catalogue,
        IEnumerable<string> indicators, IEnumerable<string> periods, Breakdown breakdown, Timestamp? asOf, CancellationToken cancellationToken,
        LifecycleFilter lifecycle = LifecycleFilter.Unspecified, Func<GetProtectionRatesRequest, CancellationToken, Task<GetProtectionRatesResponse>>? rates = null) =>
        RegionalExport.RowsAsync(answer, catalogue, indicators, periods, breakdown, asOf, cancellationToken, lifecycle, rates);

    private static async Task<List<ExportRow>> StateRowsAsync(GrpcChannel channel, IEnumerable<string> indicators, IEnumerable<string> periods, Timestamp? asOf,
        CancellationToken cancellationToken)
    {
        var rows = new List<ExportRow>();
        var client = new ObservationService.ObservationServiceClient(channel);
        foreach (var period in periods)
        {
            var request = new StreamObservationsRequest { PeriodFrom = period, PeriodTo = period };
            request.IndicatorCodes.Add(indicators);
            if (asOf is not null)
            {
                request.AsOfTime = asOf;
            }
            using var call = client.StreamObservations(request, cancellationToken: cancellationToken);
            while (await call.ResponseStream.MoveNext(cancellationToken))
            {
                foreach (var stored in call.ResponseStream.Current.Observations.Where(s => s.Observation.Period == period))
                {
                    var row = ExportRow.From(stored.Observation);
                    rows.Add(stored.Withholding.IsValueWithheld() ? row with { Value = null, Status = ObservationStatus.Confidential } : row);
                }
            }
        }
        return rows;
    }

    private static PeriodGranularity GranularityOf(string period) => Period.TryParse(period, out var parsed) ? parsed.Granularity : PeriodGranularity.Year;

    private static string CellName(RegionalCell cell) =>
        string.Join(" ", new[] { cell.Sex, cell.Age, cell.CountryOfOrigin, cell.ApplicationType, cell.DecisionLevel, cell.ProcedureType, cell.CountryOfDestination }
            .Append(cell.CountBasis == Mirps.Log.AddedDimensions.Persons ? "" : cell.CountBasis).Where(c => c.Length > 0 && c != "_T")) is { Length: > 0 } name ? name : "total";

    private static string Change(RegionalChange change) =>
        change.Current is null || change.Previous is null || !change.Current.Complete || !change.Previous.Complete
            ? "-"
            : change.AbsoluteChange.ToString("+#,0.#;-#,0.#;0", CultureInfo.InvariantCulture)
              + (change.HasRelativeChange ? $" ({change.RelativeChange.ToString("+0.0%;-0.0%;0.0%", CultureInfo.InvariantCulture)})" : "");
}
