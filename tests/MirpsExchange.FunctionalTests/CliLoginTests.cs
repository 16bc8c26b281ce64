using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Mirps.Auth;
using Mirps.Identity.V1;
using MirpsExchange.Cli;
using MirpsExchange.FunctionalTests.Infrastructure;

namespace MirpsExchange.FunctionalTests;

/// <summary><c>mirps login</c> against a real identity server: the code flow with PKCE through a loopback redirect, a browser driven as a person would.</summary>
public class CliLoginTests
{
    [Fact]
    public async Task A_person_signs_in_from_the_CLI_through_a_loopback_redirect_and_the_token_is_kept_owner_only()
    {
        await using var identity = await TestIdentity.StartAsync();
        using var setup = new PersonSignIn(identity, await PersonSignIn.RegisterClientAsync(identity));
        var (_, temporary) = await PersonSignIn.CreateAccountAsync(identity, "ana.pan", AccountKind.Submitter, "PAN");
        Assert.NotEmpty(PersonSignIn.CodeOf((await setup.SignInAsync(setup.AuthorizeUrl(PersonSignIn.Pkce().Challenge), "ana.pan", temporary, "a long new passphrase")).Response));

        // The admin registers the command line's loopback redirect once.
        var port = FreePort();
        var cliClient = (await new AccountService.AccountServiceClient(identity.AdminChannel).RegisterPublicClientAsync(new RegisterPublicClientRequest
        {
            RedirectUris = { $"http://127.0.0.1:{port}/callback" }, Description = "mirps login",
        })).ClientId;
        var folder = Path.Combine(identity.Folder, "profile");
        var tokenFile = Path.Combine(folder, "mirps", "token.json");
        var printed = new StringWriter();
        var output = TextWriter.Synchronized(printed); // the command writes while the test reads
        string Printed()
        {
            lock (output)
            {
                return printed.ToString();
            }
        }
        var error = new StringWriter();
        var login = CliApp.BuildRootCommand()
            .Parse(["login", "--identity", identity.Issuer, "--client-id", cliClient, "--port", $"{port}", "--token-file", tokenFile, "--timeout", "00:01:00"])
            .InvokeAsync(new InvocationConfiguration { Output = output, Error = error });

        // The person opens the printed address in a browser and signs in; the browser follows the redirect to the loopback address.
        string? address = null;
        for (var i = 0; i < 200 && address is null && !login.IsCompleted; i++)
        {
            address = Printed().Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(identity.Issuer, StringComparison.Ordinal));
            await Task.Delay(50);
        }
        Assert.True(address is not null, Printed() + error);
        Assert.Contains("code_challenge_method=S256", address, StringComparison.Ordinal);
        using var browser = new PersonSignIn(identity, cliClient);
        var (page, _) = await browser.SignInAsync(address, "ana.pan", "a long new passphrase");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);

        Assert.True(await login == CliApp.Ok, Printed() + error);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
        }
        var saved = JsonDocument.Parse(await File.ReadAllTextAsync(tokenFile)).RootElement;
        var token = new JsonWebToken(saved.GetProperty("access_token").GetString());
        Assert.Equal((MirpsAuth.StateRole, "PAN"), (token.GetClaim(MirpsAuth.RoleClaim).Value, token.GetClaim(MirpsAuth.CountryClaim).Value));
        Assert.Equal([MirpsAuth.NodeAudience("PAN")], token.Audiences);
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
