using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Mirps.Auth;
using MirpsExchange.Identity.Store;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Identity.Credentials;

/// <summary>
/// On first start with an empty register, creates one admin credential and writes it to a file only
/// the server's user can read. The secret is never logged; the file's path is. The file is written
/// before the credential's row commits: a crash or a failed write in between leaves an empty register,
/// so the next start bootstraps again (overwriting a file whose row never committed) instead of leaving
/// an admin whose secret nobody has.
/// </summary>
public static partial class AdminBootstrap
{
    public const string FileName = "admin-credential.json";

    public static async Task EnsureAdminAsync(IServiceProvider services, string dataDirectory, CancellationToken cancellationToken = default)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
        var logger = scope.ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(AdminBootstrap));
        if (await db.Credentials.AnyAsync(cancellationToken))
        {
            return;
        }
        var administration = scope.ServiceProvider.GetRequiredService<CredentialAdministration>();
        var path = Path.GetFullPath(Path.Combine(dataDirectory, FileName));
        var (credential, _) = await administration.IssueAsync("bootstrap", "", MirpsAuth.AdminRole, CredentialAdministration.ClientSecretMethod,
            null, "first admin, created at first start", cancellationToken,
            beforeCommit: (issued, secret) => OwnerOnlyFile.WriteAllText(path, JsonSerializer.Serialize(new AdminCredentialFile(issued.ClientId, secret!), JsonOptions)));
        LogBootstrapped(logger, credential.ClientId, path);
    }

    public static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    [LoggerMessage(EventName = "AdminBootstrapped", Level = LogLevel.Warning,
        Message = "First start: created the admin credential {ClientId}; its secret is in {Path} (readable only by this user). Move it somewhere safe.")]
    private static partial void LogBootstrapped(ILogger logger, string clientId, string path);
}

/// <summary>The bootstrap file's content, also what `mirps credentials` reads.</summary>
public sealed record AdminCredentialFile(string ClientId, string ClientSecret)
{
    /// <summary>Never the secret, should the record ever be logged or interpolated.</summary>
    public override string ToString() => $"AdminCredentialFile {{ ClientId = {ClientId} }}";
}
