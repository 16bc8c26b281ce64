using System.CommandLine;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Spreadsheets;

namespace MirpsExchange.Cli.Commands;

/// <summary><c>mirps template --country BLZ --period 2023</c>: the Excel template a State fills in for one period, then submits with <c>mirps submit</c>.</summary>
public static class TemplateCommand
{
    public const string Description =
        "Write the Excel (xlsx) template of one State and period: a sheet per indicator group, Spanish and English headers, "
        + "code dropdowns, one pre-filled row per indicator. Fill in the values (add rows for breakdowns), then: mirps submit FILE.xlsx. "
        + "Exit codes: 0 written. 1 input refused.";

    public static Command Create()
    {
        var country = new Option<string>("--country") { Description = "The reporting State (ISO3, for example BLZ)", Required = true };
        var period = new Option<string>("--period") { Description = "The period: a year (2023), a quarter (2023-Q1) or a month (2023-01)", Required = true };
        var output = new Option<FileInfo?>("--out") { Description = "The file to write (default: mirps-COUNTRY-PERIOD.xlsx in the current folder)" };
        var version = new Option<string>("--catalogue-version")
        {
            Description = $"The catalogue version of the node the file is for ({string.Join(", ", StandardCatalogue.ShippedVersions.Keys)})",
            DefaultValueFactory = _ => StandardCatalogue.StandardVersion,
        };
        var command = new Command("template", Description) { country, period, output, version };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var state = parse.GetRequiredValue(country).Trim().ToUpperInvariant();
            var when = parse.GetRequiredValue(period).Trim();
            var file = parse.GetValue(output) ?? new FileInfo($"mirps-{state}-{when}.xlsx");
            var error = parse.InvocationConfiguration.Error;
            if (!StandardCatalogue.ShippedVersions.ContainsKey(parse.GetRequiredValue(version)))
            {
                await error.WriteLineAsync($"error: --catalogue-version must be one of {string.Join(", ", StandardCatalogue.ShippedVersions.Keys)}");
                return CliApp.Refused;
            }
            try
            {
                using var memory = new MemoryStream();
                XlsxTemplate.Write(memory, StandardCatalogue.LoadVersion(parse.GetRequiredValue(version)), state, when);
                await File.WriteAllBytesAsync(file.FullName, memory.ToArray(), cancellationToken);
            }
            catch (ArgumentException e)
            {
                await error.WriteLineAsync($"error: {e.Message}");
                return CliApp.Refused;
            }
            await parse.InvocationConfiguration.Output.WriteLineAsync($"{file.FullName}: the template of {state} for {when}; fill in the values, then: mirps submit {file.Name} --node ...");
            return CliApp.Ok;
        });
        return command;
    }
}
