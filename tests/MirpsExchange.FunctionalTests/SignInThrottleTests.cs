using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Mirps.Identity.V1;
using MirpsExchange.FunctionalTests.Infrastructure;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// What anyone who can reach the sign-in page can make it do to someone else: lock an account out, learn
/// which user names exist, or post forms without end. Each attack runs against a real identity server on
/// 127.0.0.1, the attacker and the owner connecting from different loopback addresses as from two machines.
/// </summary>
public partial class SignInThrottleTests
{
    private const string Password = "the owner's long passphrase";

    private static async Task<string> ReadyAccountAsync(TestIdentity identity, PersonSignIn browser, string userName, string country = "GTM")
    {
        var (id, temporary) = await PersonSignIn.CreateAccountAsync(identity, userName, AccountKind.Analyst, country);
        var (response, _) = await browser.SignInAsync(browser.AuthorizeUrl(PersonSignIn.Pkce().Challenge), userName, temporary, Password);
        Assert.NotEmpty(PersonSignIn.CodeOf(response));
        return id;
    }

    [Fact]
    public async Task An_attacker_from_one_address_cannot_lock_the_owner_out_from_another()
    {
        await using var identity = await TestIdentity.StartAsync(); // default limits: 5 wrong passwords per (name, address)
        var clientId = await PersonSignIn.RegisterClientAsync(identity);
        using var owner = new PersonSignIn(identity, clientId, sourceAddress: "127.0.0.1");
        using var attacker = new PersonSignIn(identity, clientId, sourceAddress: "127.0.0.2");
        var id = await ReadyAccountAsync(identity, owner, "rosa.gtm");

        // Another State (the user name is no secret) tries passwords for the owner's account, and goes on.
        var url = attacker.AuthorizeUrl(PersonSignIn.Pkce().Challenge);
        var statuses = new List<HttpStatusCode>();
        for (var attempt = 0; attempt < 12; attempt++)
        {
            var (response, _) = await attacker.SignInAsync(url, "rosa.gtm", $"guess {attempt}");
            statuses.Add(response.StatusCode);
        }
        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.Unauthorized, 5), .. Enumerable.Repeat(HttpStatusCode.TooManyRequests, 7)], statuses);
        // Throttled before any password is checked: the right password from the attacker's address is refused too.
        var (fromAttacker, _) = await attacker.SignInAsync(url, "rosa.gtm", Password);
        Assert.Equal(HttpStatusCode.TooManyRequests, fromAttacker.StatusCode);

        // The owner, from their own address, signs in at once; the account was never locked.
        var (signIn, _) = await owner.SignInAsync(owner.AuthorizeUrl(PersonSignIn.Pkce().Challenge), "rosa.gtm", Password);
        Assert.NotEmpty(PersonSignIn.CodeOf(signIn));
        var account = (await new AccountService.AccountServiceClient(identity.AdminChannel).ListAccountsAsync(new ListAccountsRequest())).Accounts.Single(a => a.AccountId == id);
        Assert.Null(account.LockoutEndTime);
    }

    [Fact]
    public async Task Guesses_spread_over_many_addresses_are_slowed_per_account_while_the_owner_keeps_signing_in_from_a_known_address()
    {
        // Small limits to keep the test short: 2 wrong passwords per (name, address), 6 per name over all addresses, a 20 s window.
        await using var identity = await TestIdentity.StartAsync("--Identity:SignInFailuresPerAccountAndAddress=2", "--Identity:SignInFailuresPerAccount=6",
            "--Identity:SignInLockout=00:00:20");
        var clientId = await PersonSignIn.RegisterClientAsync(identity);
        using var owner = new PersonSignIn(identity, clientId, sourceAddress: "127.0.0.1");
        var id = await ReadyAccountAsync(identity, owner, "lucia.gtm");

        // An attacker with many addresses (as many IPv6 /64s) makes 2 guesses from each of 10 of them.
        var statuses = new List<HttpStatusCode>();
        string? retryAfter = null;
        for (var source = 10; source < 20; source++)
        {
            using var attacker = new PersonSignIn(identity, clientId, sourceAddress: $"127.0.0.{source}");
            var url = attacker.AuthorizeUrl(PersonSignIn.Pkce().Challenge);
            for (var attempt = 0; attempt < 2; attempt++)
            {
                var (response, _) = await attacker.SignInAsync(url, "lucia.gtm", $"guess {source}.{attempt}");
                statuses.Add(response.StatusCode);
                retryAfter ??= response.StatusCode == HttpStatusCode.TooManyRequests ? response.Headers.RetryAfter?.ToString() : null;
            }
        }
        // 6 guesses in all, then 429 with Retry-After from every address that never signed in to that account.
        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.Unauthorized, 6), .. Enumerable.Repeat(HttpStatusCode.TooManyRequests, 14)], statuses);
        Assert.NotNull(retryAfter);
        // Before any password is checked: the right password from a new address waits too.
        using var newAddress = new PersonSignIn(identity, clientId, sourceAddress: "127.0.0.50");
        var (fromNewAddress, _) = await newAddress.SignInAsync(newAddress.AuthorizeUrl(PersonSignIn.Pkce().Challenge), "lucia.gtm", Password);
        Assert.Equal(HttpStatusCode.TooManyRequests, fromNewAddress.StatusCode);
        var wait = fromNewAddress.Headers.RetryAfter?.Delta;
        Assert.True(wait > TimeSpan.Zero && wait <= TimeSpan.FromSeconds(20), $"Retry-After {fromNewAddress.Headers.RetryAfter}");

        // The owner, from the address they signed in from before, is not slowed and the account is not locked.
        var (signIn, _) = await owner.SignInAsync(owner.AuthorizeUrl(PersonSignIn.Pkce().Challenge), "lucia.gtm", Password);
        Assert.NotEmpty(PersonSignIn.CodeOf(signIn));
        var account = (await new AccountService.AccountServiceClient(identity.AdminChannel).ListAccountsAsync(new ListAccountsRequest())).Accounts.Single(a => a.AccountId == id);
        Assert.Null(account.LockoutEndTime);

        // Slowed, never locked: after the time it was told to wait, the new address signs in with the right password.
        await Task.Delay(wait!.Value + TimeSpan.FromSeconds(1));
        var (later, _) = await newAddress.SignInAsync(newAddress.AuthorizeUrl(PersonSignIn.Pkce().Challenge), "lucia.gtm", Password);
        Assert.NotEmpty(PersonSignIn.CodeOf(later));
    }

    [Fact]
    public async Task Unknown_user_names_disabled_accounts_and_wrong_passwords_get_the_same_answers_in_comparable_time()
    {
        await using var identity = await TestIdentity.StartAsync();
        var clientId = await PersonSignIn.RegisterClientAsync(identity);
        using (var setup = new PersonSignIn(identity, clientId))
        {
            await ReadyAccountAsync(identity, setup, "rosa.gtm");
            var disabled = await ReadyAccountAsync(identity, setup, "juan.pan", "PAN");
            await new AccountService.AccountServiceClient(identity.AdminChannel).DisableAccountAsync(new DisableAccountRequest { AccountId = disabled, Reason = "left" });
        }

        var challenge = PersonSignIn.Pkce().Challenge; // one authorization request: the pages carry it as their return URL
        // Each from its own address, the same number of tries: past the throttle, so its answers are compared too.
        async Task<(List<(HttpStatusCode, string?, string)> Answers, List<double> Milliseconds)> TryAsync(string address, string userName, Func<int, string> password)
        {
            using var browser = new PersonSignIn(identity, clientId, sourceAddress: address);
            var url = browser.AuthorizeUrl(challenge);
            var answers = new List<(HttpStatusCode, string?, string)>();
            var times = new List<double>();
            for (var attempt = 0; attempt < 8; attempt++)
            {
                var time = Stopwatch.StartNew();
                var (response, _) = await browser.SignInAsync(url, userName, password(attempt));
                times.Add(time.Elapsed.TotalMilliseconds);
                var body = AntiforgeryToken().Replace(await response.Content.ReadAsStringAsync(), "");
                answers.Add((response.StatusCode, response.Headers.RetryAfter is null ? null : "Retry-After", body));
                response.Dispose();
            }
            return (answers, times);
        }

        var wrong = await TryAsync("127.0.0.3", "rosa.gtm", attempt => $"wrong password {attempt}");
        var unknown = await TryAsync("127.0.0.4", "nadie.gtm", attempt => $"wrong password {attempt}");
        var disabledRight = await TryAsync("127.0.0.5", "juan.pan", _ => Password);

        Assert.Equal(HttpStatusCode.Unauthorized, wrong.Answers[0].Item1);
        Assert.Contains(wrong.Answers, a => a.Item1 == HttpStatusCode.TooManyRequests);
        Assert.Equal(wrong.Answers, unknown.Answers);
        Assert.Equal(wrong.Answers, disabledRight.Answers);
        // The password hasher runs for an unknown name too (a dummy hash): without it, the answer would come
        // several times sooner. Medians of the tries before the throttle.
        static double Median(List<double> times) => times.Take(5).Order().ElementAt(2);
        Assert.True(Median(unknown.Milliseconds) > Median(wrong.Milliseconds) / 3,
            $"unknown name {Median(unknown.Milliseconds):F1} ms against wrong password {Median(wrong.Milliseconds):F1} ms");
    }

    [Fact]
    public async Task Sign_in_forms_posted_from_one_address_over_its_limit_get_429_and_another_address_is_still_served()
    {
        await using var identity = await TestIdentity.StartAsync("--Identity:SignInPostsPerAddressPerMinute=6");
        var clientId = await PersonSignIn.RegisterClientAsync(identity);
        using var owner = new PersonSignIn(identity, clientId, sourceAddress: "127.0.0.1");
        await ReadyAccountAsync(identity, owner, "rosa.gtm"); // two forms from 127.0.0.1: the password, the new password

        // Another address posts login forms, each for a different name (no name's failures fill): the 7th is refused.
        using var flood = new PersonSignIn(identity, clientId, sourceAddress: "127.0.0.6");
        var url = flood.AuthorizeUrl(PersonSignIn.Pkce().Challenge);
        for (var i = 0; i < 6; i++)
        {
            var (response, _) = await flood.SignInAsync(url, $"name{i}.pan", "any password at all");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        var (over, _) = await flood.SignInAsync(url, "name6.pan", "any password at all");
        Assert.Equal(HttpStatusCode.TooManyRequests, over.StatusCode);
        Assert.InRange(over.Headers.RetryAfter?.Delta ?? TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
        Assert.Contains("role=\"alert\"", await over.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var (signIn, _) = await owner.SignInAsync(owner.AuthorizeUrl(PersonSignIn.Pkce().Challenge), "rosa.gtm", Password);
        Assert.NotEmpty(PersonSignIn.CodeOf(signIn));
    }

    [GeneratedRegex("<input type=\"hidden\" name=\"__RequestVerificationToken\" value=\"[^\"]*\">")]
    private static partial Regex AntiforgeryToken();
}
