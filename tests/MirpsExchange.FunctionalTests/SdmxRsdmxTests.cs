using System.Diagnostics;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// An independent SDMX client reads a node: R's rsdmx (Debian r-cran-rsdmx, installed by .ci/run), run as a process against the
/// node's HTTP/1.1 endpoint on 127.0.0.1 with a State's bearer token, reads the data structure with its code lists and the data,
/// and what it reads is compared with the catalogue and with the gRPC StreamObservations answer to the same State.
/// </summary>
public class SdmxRsdmxTests
{
    /// <summary>
    /// Prints what rsdmx read, one fact a line: DIM id codelist, TIME id, ATTRIBUTE id, CODE codelist code, then OBS key=value|OBS_STATUS|CONF_STATUS
    /// (the key's dimensions in the order the data structure lists them, then the time period), then XOBS the same from the
    /// cross-sections at SEX (rsdmx names the observation's dimension obsTime whichever it is; the time period is a series column).
    /// </summary>
    private const string Script = """
        suppressPackageStartupMessages(library(rsdmx))
        base <- Sys.getenv("MIRPS_SDMX")
        h <- list(Authorization = paste("Bearer", Sys.getenv("MIRPS_TOKEN")))
        dsd <- readSDMX(paste0(base, "/datastructure/MIRPS/DSD_MIRPS_PROTECTION/latest?references=children"), headers = h)
        ds <- slot(slot(dsd, "datastructures"), "datastructures")[[1]]
        components <- slot(ds, "Components")
        dimensions <- c()
        for (d in slot(components, "Dimensions")) {
          cat("DIM", slot(d, "conceptRef"), slot(d, "codelist"), "\n")
          dimensions <- c(dimensions, slot(d, "conceptRef"))
        }
        cat("TIME", slot(slot(components, "TimeDimension"), "conceptRef"), "\n")
        for (a in slot(components, "Attributes")) cat("ATTRIBUTE", slot(a, "conceptRef"), "\n")
        for (cl in slot(slot(dsd, "codelists"), "codelists")) {
          for (code in slot(cl, "Code")) cat("CODE", slot(cl, "id"), slot(code, "id"), "\n")
        }
        data <- as.data.frame(readSDMX(paste0(base, "/data/DF_MIRPS_PROTECTION/all"), headers = h))
        cell <- function(row, column) {
          if (!(column %in% names(data))) return("")
          value <- data[row, column]
          if (is.na(value)) "" else as.character(value)
        }
        for (i in seq_len(nrow(data))) {
          key <- paste(c(sapply(dimensions, function(d) cell(i, d)), cell(i, "obsTime")), collapse = ".")
          value <- if (is.na(data[i, "obsValue"])) "" else format(data[i, "obsValue"], scientific = FALSE)
          cat("OBS ", key, "=", value, "|", cell(i, "OBS_STATUS"), "|", cell(i, "CONF_STATUS"), "\n", sep = "")
        }
        cross <- as.data.frame(readSDMX(paste0(base, "/data/DF_MIRPS_PROTECTION/all?dimensionAtObservation=SEX"), headers = h))
        xcell <- function(row, column) {
          if (!(column %in% names(cross))) return("")
          value <- cross[row, column]
          if (is.na(value)) "" else as.character(value)
        }
        for (i in seq_len(nrow(cross))) {
          key <- paste(c(sapply(dimensions, function(d) if (d == "SEX") xcell(i, "obsTime") else xcell(i, d)), xcell(i, "TIME_PERIOD")), collapse = ".")
          value <- if (is.na(cross[i, "obsValue"])) "" else format(cross[i, "obsValue"], scientific = FALSE)
          cat("XOBS ", key, "=", value, "|", xcell(i, "OBS_STATUS"), "|", xcell(i, "CONF_STATUS"), "\n", sep = "")
        }
        """;

    /// <summary>Rscript on the PATH, or a failure that says how .ci/run installs it: this test is never skipped.</summary>
    private static string Rscript()
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(folder => Path.Combine(folder, "Rscript")).FirstOrDefault(File.Exists);
        Assert.True(found is not null,
            "Rscript is not installed, so the SDMX REST endpoints cannot be checked with R's rsdmx: install the Debian package r-cran-rsdmx " +
            "(.ci/run does: apt-get install -y --no-install-recommends r-cran-rsdmx)");
        return found!;
    }

    private static async Task<(int Exit, string Output, string Errors)> RunAsync(string script, string sdmx, string token)
    {
        var start = new ProcessStartInfo(Rscript(), [script]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.Environment["MIRPS_SDMX"] = sdmx;
        start.Environment["MIRPS_TOKEN"] = token;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await errors);
    }

    [Fact]
    public async Task R_rsdmx_reads_the_data_structure_and_the_data_a_State_may_see_as_gRPC_serves_them()
    {
        Rscript(); // before anything starts: fails with how to install it
        await using var belize = await TestNode.StartAsync("BLZ", null,
        [
            SdmxRestTests.HttpPort,
            .. SharingPolicyTests.Policy(("Default", "Readers", "all"), ("REFUGEES", "SmallCountThreshold", "5"), ("IDPS", "Readers", "secretariat")),
        ]);
        var estimated = Refugees(period: "2022", value: 200);
        estimated.Status = Mirps.Observation.V1.ObservationStatus.Estimated;
        estimated.Confidentiality = Mirps.Observation.V1.ConfidentialityStatus.Free;
        var idps = Refugees(value: 5555);
        idps.IndicatorCode = "IDPS";
        idps.CountryOfOrigin = "";
        await belize.Observations.SubmitObservationsAsync(Submit(Refugees(sex: "F", value: 1237), Refugees(sex: "M", value: 3), Refugees(value: 1240),
            estimated, SharingPolicyTests.Applications(value: 100100), idps));
        var token = await SdmxRestTests.TokenAsync(belize, "CRI");
        var expected = (await SdmxRestTests.GrpcAsync(belize, token)).Select(SdmxRestTests.Expected).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(5, expected.Count); // IDPS is the Secretariat's only

        var script = Path.Combine(belize.Folder, "read.R");
        await File.WriteAllTextAsync(script, Script);
        var (exit, output, errors) = await RunAsync(script, belize.HttpAddress + "/sdmx/rest", token);
        Assert.True(exit == 0, $"Rscript failed ({exit}):\n{errors}\n{output}");
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string[] Facts(string kind) => [.. lines.Where(l => l.StartsWith(kind + " ", StringComparison.Ordinal)).Select(l => l[(kind.Length + 1)..].Trim())];

        // The structure, as the catalogue defines it.
        Assert.Equal(SdmxRestTests.Dimensions[..^1], Facts("DIM").Select(d => d.Split(' ')[0]));
        Assert.Equal(["INDICATOR CL_INDICATOR", "REF_AREA CL_MIRPS_STATE", "SEX CL_SEX"], Facts("DIM").Take(3));
        Assert.Equal(["TIME_PERIOD"], Facts("TIME"));
        Assert.Equal(["OBS_STATUS", "CONF_STATUS", "LOWER_BOUND", "SYNTHETIC", "COMMENT_OBS"], Facts("ATTRIBUTE"));
        var codes = Facts("CODE").Select(c => c.Split(' ')).GroupBy(c => c[0], c => c[1]).ToDictionary(g => g.Key, g => g.ToList());
        var catalogue = MirpsExchange.Catalogue.StandardCatalogue.LoadStandard();
        Assert.Equal(catalogue.Catalog.Indicators.Select(i => i.Code), codes["CL_INDICATOR"]);
        Assert.Equal([.. catalogue.Catalog.Codelists.Single(c => c.Id == "CL_AGE").Codes.Select(c => c.Id), "_Z"], codes["CL_AGE"]);

        // The data: the gRPC answer to the same State, withheld values without a value (NA in R) and nothing it may not see.
        var read = Facts("OBS").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, read);
        Assert.Contains("ASYLUM_APPLICATIONS.BLZ._T._T._T._T._Z._T.PERSONS._Z.2023=100100|A|", read);
        Assert.Contains("REFUGEES.BLZ.M._T._T._Z._Z._Z._Z._Z.2023=|C|C", read);
        Assert.Contains("REFUGEES.BLZ._T._T._T._Z._Z._Z._Z._Z.2022=200|E|F", read);
        // The cross-sections at SEX: the same observations, read by R from series keyed by the time period.
        Assert.Equal(expected, Facts("XOBS").Order(StringComparer.Ordinal));
        Assert.DoesNotContain("1237", output);
        Assert.DoesNotContain("5555", output);
    }
}
