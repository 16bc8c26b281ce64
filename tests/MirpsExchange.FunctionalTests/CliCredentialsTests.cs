using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Mirps.Auth;
using Mirps.Identity.V1;
using MirpsExchange.Cli;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.FunctionalTests;

/// <summary><c>mirps credentials</c> against a real identity server, with its bootstrap admin credential.</summary>
public class CliCredentialsTests
{
    private static Task<(int Code, string Output, string Error)> RunAsync(params string[] args) => CliRunner.RunAsync(args);

    private static string AdminFile(TestIdentity identity) => Path.Combine(identity.DataDirectory, "admin-credential.json");

    /// <summary>mirps credentials SUBCOMMAND ARGS against <paramref name="identity"/> with <paramref name="credential"/> (default: the bootstrap admin file).</summary>
    private static Task<(int Code, string Output, string Error)> CredentialsAsync(TestIdentity identity, string subcommand, string[] args, string? credential = null) =>
        RunAsync(["credentials", subcommand, .. args, "--identity", identity.Issuer, "--admin-api", identity.GrpcAddress, "--credential", credential ?? AdminFile(identity)]);

    private static string[] Lines(string text) => text.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The secret printed as "client_secret: ..." (when there is no --out).</summary>
    private static string PrintedSecret(string output) => Regex.Match(output, @"^client_secret:\s+(\S+)\s*$", RegexOptions.Multiline) is { Success: true } m
        ? m.Groups[1].Value
        : throw new Xunit.Sdk.XunitException($"no client_secret line in: {output}");

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Issue_with_out_writes_an_owner_only_file_that_gets_a_token_and_never_overwrites_it()
    {
        await using var identity = await TestIdentity.StartAsync();
        var file = Path.Combine(identity.Folder, "blz.json");

        var issued = await CredentialsAsync(identity, "issue", ["--country", "BLZ", "--role", "state", "--description", "national system of Belize", "--out", file]);

        Assert.True(issued.Code == CliApp.Ok, issued.Error + issued.Output);
        var credential = ClientCredential.Load(file);
        Assert.StartsWith("blz-state-", credential.ClientId);
        Assert.Contains($"Issued {credential.ClientId}: role state, country BLZ, client_secret", issued.Output);
        Assert.DoesNotContain(credential.ClientSecret, issued.Output);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        var token = await identity.RequestTokenAsync(credential);
        Assert.Equal(200, token.Status);
        var listed = Assert.Single((await identity.Credentials.ListCredentialsAsync(new ListCredentialsRequest())).Credentials, c => c.ClientId == credential.ClientId);
        Assert.Equal(("BLZ", Role.State, "national system of Belize"), (listed.Country, listed.Role, listed.Description));

        // The file exists now: a second issue to it is refused before anything is issued, and the file is left as it was.
        var before = await File.ReadAllTextAsync(file);
        var again = await CredentialsAsync(identity, "issue", ["--country", "BLZ", "--role", "state", "--out", file]);

        Assert.Equal(CliApp.Refused, again.Code);
        Assert.Contains("already exists", again.Error);
        Assert.Equal(before, await File.ReadAllTextAsync(file));
        Assert.Equal(2, (await identity.Credentials.ListCredentialsAsync(new ListCredentialsRequest())).Credentials.Count); // the admin and Belize's
    }

    [Fact]
    public async Task Issue_without_out_prints_the_secret_once_and_it_gets_a_token()
    {
        await using var identity = await TestIdentity.StartAsync();

        var issued = await CredentialsAsync(identity, "issue", ["--role", "secretariat", "--description", "the Technical Secretariat"]);

        Assert.True(issued.Code == CliApp.Ok, issued.Error + issued.Output);
        var clientId = Regex.Match(issued.Output, @"^client_id:\s+(\S+)\s*$", RegexOptions.Multiline).Groups[1].Value;
        Assert.StartsWith("secretariat-", clientId);
        Assert.Contains("shown this once", issued.Output);
        Assert.Equal(200, (await identity.RequestTokenAsync(new ClientCredential(clientId, PrintedSecret(issued.Output)))).Status);
    }

    [Fact]
    public async Task List_shows_every_credential_with_role_country_and_method_and_revoked_ones_only_when_asked()
    {
        await using var identity = await TestIdentity.StartAsync();
        var panama = await identity.IssueAsync(Role.State, "PAN");
        var mexico = await identity.IssueAsync(Role.State, "MEX");
        await identity.Credentials.RevokeCredentialAsync(new RevokeCredentialRequest { ClientId = mexico.ClientId, Reason = "test" });

        var list = await CredentialsAsync(identity, "list", []);
        var all = await CredentialsAsync(identity, "list", ["--include-revoked"]);

        Assert.True(list.Code == CliApp.Ok, list.Error + list.Output);
        Assert.Matches(@"^CLIENT ID\s+ROLE\s+COUNTRY\s+METHOD\s+CREATED\s+REVOKED", Lines(list.Output)[0]);
        Assert.Matches($@"(?m)^{panama.ClientId}\s+state\s+PAN\s+client_secret\s+\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+-\s", list.Output);
        Assert.Matches($@"(?m)^{identity.Admin.ClientId}\s+admin\s+-\s+client_secret\s", list.Output);
        Assert.DoesNotContain(mexico.ClientId, list.Output);
        Assert.DoesNotContain(panama.ClientSecret, list.Output);
        Assert.Equal(CliApp.Ok, all.Code);
        Assert.Matches($@"(?m)^{mexico.ClientId}\s+state\s+MEX\s+client_secret\s+\S+ \S+\s+\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\dZ\s", all.Output);
        Assert.Contains(panama.ClientId, all.Output);
    }

    [Fact]
    public async Task List_follows_the_pages_to_the_last_credential()
    {
        await using var identity = await TestIdentity.StartAsync();
        var issued = new List<string>();
        for (var i = 0; i < 105; i++) // one page is at most 100
        {
            issued.Add((await identity.IssueAsync(Role.Secretariat)).ClientId);
        }

        var list = await CredentialsAsync(identity, "list", []);

        Assert.True(list.Code == CliApp.Ok, list.Error + list.Output);
        Assert.All(issued, id => Assert.Contains(id, list.Output));
        Assert.Contains("106 credentials", list.Output);
    }

    [Fact]
    public async Task Rotate_makes_the_old_secret_fail_and_the_new_one_work_or_keeps_the_old_one_for_the_grace_period()
    {
        await using var identity = await TestIdentity.StartAsync();
        var costaRica = await identity.IssueAsync(Role.State, "CRI");
        var honduras = await identity.IssueAsync(Role.State, "HND");
        var file = Path.Combine(identity.Folder, "cri.json");

        var rotated = await CredentialsAsync(identity, "rotate", [costaRica.ClientId, "--out", file]);
        var graced = await CredentialsAsync(identity, "rotate", [honduras.ClientId, "--grace", "01:00:00"]);

        Assert.True(rotated.Code == CliApp.Ok, rotated.Error + rotated.Output);
        Assert.Contains($"the previous secret stopped working at", rotated.Output);
        var replaced = ClientCredential.Load(file);
        Assert.Equal(costaRica.ClientId, replaced.ClientId);
        Assert.NotEqual(costaRica.ClientSecret, replaced.ClientSecret);
        Assert.Equal(401, (await identity.RequestTokenAsync(costaRica)).Status);
        Assert.Equal(200, (await identity.RequestTokenAsync(replaced)).Status);

        Assert.True(graced.Code == CliApp.Ok, graced.Error + graced.Output);
        var until = Regex.Match(graced.Output, @"keeps working until (\S+ \S+Z)");
        Assert.True(until.Success, graced.Output);
        var expires = DateTimeOffset.ParseExact(until.Groups[1].Value, "yyyy-MM-dd HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal);
        Assert.InRange(expires, DateTimeOffset.UtcNow.AddMinutes(58), DateTimeOffset.UtcNow.AddMinutes(61));
        Assert.Equal(200, (await identity.RequestTokenAsync(honduras)).Status);
        Assert.Equal(200, (await identity.RequestTokenAsync(honduras with { ClientSecret = PrintedSecret(graced.Output) })).Status);
    }

    [Fact]
    public async Task Revoke_stops_token_requests_and_prints_the_time()
    {
        await using var identity = await TestIdentity.StartAsync();
        var salvador = await identity.IssueAsync(Role.State, "SLV");
        Assert.Equal(200, (await identity.RequestTokenAsync(salvador)).Status);

        var revoked = await CredentialsAsync(identity, "revoke", [salvador.ClientId, "--reason", "laptop stolen"]);

        Assert.True(revoked.Code == CliApp.Ok, revoked.Error + revoked.Output);
        Assert.Matches($@"Revoked {salvador.ClientId} at \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\dZ", revoked.Output);
        Assert.Equal(401, (await identity.RequestTokenAsync(salvador)).Status);
        var record = Assert.Single((await identity.Credentials.ListCredentialsAsync(new ListCredentialsRequest { IncludeRevoked = true })).Credentials,
            c => c.ClientId == salvador.ClientId);
        Assert.NotNull(record.RevokeTime);
    }

    [Fact]
    public async Task Audit_prints_issue_rotate_and_revoke_newest_first_with_actor_and_detail()
    {
        await using var identity = await TestIdentity.StartAsync();
        var issued = await CredentialsAsync(identity, "issue", ["--country", "GTM", "--role", "state"]);
        var clientId = Regex.Match(issued.Output, @"^client_id:\s+(\S+)", RegexOptions.Multiline).Groups[1].Value;
        var rotated = await CredentialsAsync(identity, "rotate", [clientId]);
        var revoked = await CredentialsAsync(identity, "revoke", [clientId, "--reason", "system retired"]);
        Assert.Equal((CliApp.Ok, CliApp.Ok, CliApp.Ok), (issued.Code, rotated.Code, revoked.Code));

        var audit = await CredentialsAsync(identity, "audit", []);
        var last = await CredentialsAsync(identity, "audit", ["--limit", "1"]);

        Assert.True(audit.Code == CliApp.Ok, audit.Error + audit.Output);
        var lines = Lines(audit.Output);
        Assert.Matches(@"^TIME\s+ACTOR\s+ACTION\s+CLIENT ID\s+DETAIL", lines[0]);
        int Line(string action) => Array.FindIndex(lines, l => Regex.IsMatch(l, $@"^\S+ \S+Z\s+{identity.Admin.ClientId}\s+{action}\s+{clientId}\s"));
        var (issue, rotate, revoke) = (Line("IssueCredential"), Line("RotateSecret"), Line("RevokeCredential"));
        Assert.True(revoke > 0 && rotate > revoke && issue > rotate, audit.Output);
        Assert.Contains("role state, country GTM", lines[issue]);
        Assert.Contains("previous secret revoked at once", lines[rotate]);
        Assert.EndsWith("system retired", lines[revoke]);
        Assert.Matches(@"^\S+ \S+Z\s+bootstrap\s+IssueCredential\s", lines[^1]); // the oldest: the admin's own credential

        Assert.Equal(CliApp.Ok, last.Code);
        Assert.Equal(2, Lines(last.Output).Length);
        Assert.Contains("RevokeCredential", Lines(last.Output)[1]);
    }

    [Fact]
    public async Task A_missing_credential_file_fails_with_exit_2_and_one_clear_line()
    {
        await using var identity = await TestIdentity.StartAsync();
        var missing = Path.Combine(identity.Folder, "no-such-admin.json");

        var result = await CredentialsAsync(identity, "list", [], credential: missing);

        Assert.Equal(CliApp.Failed, result.Code);
        var line = Assert.Single(Lines(result.Error));
        Assert.StartsWith("error: ", line);
        Assert.Contains(missing, line);
        Assert.Contains("does not exist", line);
        Assert.Equal("", result.Output);
    }

    [Fact]
    public async Task A_wrong_admin_secret_fails_with_exit_2_naming_invalid_client_and_issues_nothing()
    {
        await using var identity = await TestIdentity.StartAsync();
        var wrong = Path.Combine(identity.Folder, "wrong-admin.json");
        OwnerOnlyFile.WriteAllText(wrong, JsonSerializer.Serialize(identity.Admin with { ClientSecret = "not-the-secret" }));

        var result = await CredentialsAsync(identity, "issue", ["--country", "BLZ", "--role", "state"], credential: wrong);

        Assert.Equal(CliApp.Failed, result.Code);
        var line = Assert.Single(Lines(result.Error));
        Assert.StartsWith($"error: no admin token from the identity server at {identity.Issuer} for {identity.Admin.ClientId}", line);
        Assert.Contains("invalid_client", line);
        Assert.Equal("", result.Output);
        Assert.Single((await identity.Credentials.ListCredentialsAsync(new ListCredentialsRequest())).Credentials); // only the admin
    }

    [Fact]
    public async Task A_country_that_is_not_a_MIRPS_State_is_refused_with_exit_1_naming_the_field()
    {
        await using var identity = await TestIdentity.StartAsync();
        var file = Path.Combine(identity.Folder, "usa.json");

        var result = await CredentialsAsync(identity, "issue", ["--country", "USA", "--role", "state", "--out", file]);

        Assert.Equal(CliApp.Refused, result.Code);
        var lines = Lines(result.Error);
        Assert.StartsWith("error: the identity server refused the request (InvalidArgument)", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("  country: a State credential needs the ISO3 code of a MIRPS State", StringComparison.Ordinal) && l.Contains("'USA'"));
        Assert.False(File.Exists(file)); // the reserved file is removed again
        Assert.Single((await identity.Credentials.ListCredentialsAsync(new ListCredentialsRequest())).Credentials);
    }

    [Fact]
    public async Task An_unreachable_admin_API_fails_with_exit_2_and_one_line()
    {
        await using var identity = await TestIdentity.StartAsync();
        // A port that was free a moment ago: nothing listens on it.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var result = await RunAsync("credentials", "list", "--identity", identity.Issuer, "--admin-api", $"http://127.0.0.1:{port}", "--credential", AdminFile(identity));

        Assert.Equal(CliApp.Failed, result.Code);
        var line = Assert.Single(Lines(result.Error));
        Assert.StartsWith($"error: the identity server's admin API at http://127.0.0.1:{port}/ could not be reached", line);
        Assert.Contains("(Unavailable)", line);
    }

    [Fact]
    public async Task Rotating_an_unknown_client_id_prints_the_status_and_detail_with_exit_2()
    {
        await using var identity = await TestIdentity.StartAsync();

        var result = await CredentialsAsync(identity, "rotate", ["blz-state-0000000000"]);

        Assert.Equal(CliApp.Failed, result.Code);
        var line = Assert.Single(Lines(result.Error));
        Assert.Contains("(NotFound): no credential has the client id 'blz-state-0000000000'", line);
    }
}
