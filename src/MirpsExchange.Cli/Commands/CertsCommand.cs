using System.CommandLine;
using MirpsExchange.Cli.Federation;

namespace MirpsExchange.Cli.Commands;

/// <summary>
/// <c>mirps certs create [--out DIR] [--name SERVICE ...] [--force]</c>: the development CA and a server
/// certificate per federation service, as PEM files, with nothing but the .NET SDK (certs/README.md).
/// </summary>
public static class CertsCommand
{
    public static Command Create()
    {
        var output = new Option<DirectoryInfo>("--out")
        {
            Description = "Folder of the PEM files (ca.crt, ca.key, NAME.crt, NAME.key); git-ignored when it is the repository's certs/",
            DefaultValueFactory = _ => new DirectoryInfo("certs"),
        };
        var names = new Option<string[]>("--name")
        {
            Description = $"Service to certify (repeatable; default: {string.Join(", ", DevelopmentCertificates.DefaultNames)})",
            AllowMultipleArgumentsPerToken = true,
            HelpName = "SERVICE",
        };
        var force = new Option<bool>("--force")
        {
            Description = "Make a new CA and new certificates even where valid ones exist (every client must then trust the new ca.crt)",
        };
        var create = new Command("create", "Create (or keep) the development CA and, signed by it, service certificates (SAN localhost, 127.0.0.1, ::1; nodes also client authentication and urn:mirps:PARTY) and client certificates per party (NAME-client)")
        {
            output, names, force,
        };
        create.SetAction(async (parse, cancellationToken) =>
        {
            var requested = parse.GetValue(names) is { Length: > 0 } given ? given : [.. DevelopmentCertificates.DefaultNames];
            var folder = parse.GetRequiredValue(output).FullName;
            var writer = parse.InvocationConfiguration.Output;
            try
            {
                foreach (var outcome in DevelopmentCertificates.Ensure(folder, requested, parse.GetValue(force)))
                {
                    await writer.WriteLineAsync($"{(outcome.Created ? "created" : "kept   ")} {outcome.CertificateFile} (key {Path.GetFileName(outcome.KeyFile)}, owner-only)");
                }
            }
            catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"error: {e.Message}");
                return CliApp.Refused;
            }
            await writer.WriteLineAsync($"Serve with Tls:CertificateFile/Tls:KeyFile; clients trust {DevelopmentCertificates.CertificateFile(folder, DevelopmentCertificates.CaName)} (--ca, MIRPS_CA or Tls:CaFile).");
            return CliApp.Ok;
        });
        return new Command("certs", "Development TLS certificates for the federation (never for production)") { create };
    }
}
