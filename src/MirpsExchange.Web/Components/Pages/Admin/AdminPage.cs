using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.AspNetCore.Components;
using Mirps.Identity.V1;
using MirpsExchange.Catalogue;

namespace MirpsExchange.Web.Components.Pages.Admin;

/// <summary>
/// An admin page: served by the identity server's process only (policy <see cref="WebPolicies.Admin"/>, set on each
/// page), it calls the identity server's own CredentialService and AccountService with the signed-in admin's token,
/// so the admin API's checks (admin scope, the account still enabled, its token not cut off) apply to every action and
/// its audit records name the person. Never cached: some answers show a secret once.
/// </summary>
public abstract class AdminPage : WebPage
{
    [Inject] protected NodeCalls Calls { get; set; } = default!;

    [Inject] protected StandardCatalogue Catalogue { get; set; } = default!;

    protected AccountService.AccountServiceClient Accounts => new(Calls.Invoker);

    protected CredentialService.CredentialServiceClient Credentials => new(Calls.Invoker);

    /// <summary>The service's refusal, shown on the page.</summary>
    protected string? Error { get; set; }

    protected override void OnInitialized()
    {
        if (HttpContext is { Response.HasStarted: false } http)
        {
            http.Response.Headers.CacheControl = "no-store";
        }
    }

    /// <summary>Runs a call to the admin API; its refusal becomes <see cref="Error"/> (false).</summary>
    protected async Task<bool> TryAsync(Func<CallOptions, Task> call)
    {
        try
        {
            await call(await Calls.OptionsAsync());
            return true;
        }
        catch (RpcException e)
        {
            Error = e.Status.Detail;
            return false;
        }
    }

    protected static string Time(Timestamp? time) =>
        time is null ? "" : time.ToDateTimeOffset().ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The MIRPS States, code and name in the page's language.</summary>
    protected IEnumerable<(string Code, string Name)> States =>
        Catalogue.Catalog.Codelists.First(c => c.Id == StandardCatalogue.ReportingCountryCodelist).Codes.Select(c => (c.Id, T.Label(c.Name)));

    protected string CountryName(string code) => code.Length == 0 ? "" : States.FirstOrDefault(s => s.Code == code) is { Name: { Length: > 0 } name } ? $"{name} ({code})" : code;

    protected string KindName(AccountKind kind) => kind switch
    {
        AccountKind.Analyst => T["admin.kind.analyst"],
        AccountKind.Submitter => T["admin.kind.submitter"],
        AccountKind.Admin => T["admin.kind.admin"],
        _ => kind.ToString(),
    };

    protected string RoleName(Role role) => role switch
    {
        Role.State => T["admin.kind.state"],
        Role.Secretariat => T["admin.kind.secretariat"],
        Role.Admin => T["admin.kind.admin"],
        _ => role.ToString(),
    };

    protected string MethodName(AuthenticationMethod method) => method switch
    {
        AuthenticationMethod.PrivateKeyJwt => T["admin.method.jwt"],
        AuthenticationMethod.TlsClientAuth => T["admin.method.tls"],
        _ => T["admin.method.secret"],
    };

    protected string AccountStatus(Account account) => account.DisableTime is not null ? T["admin.status.disabled"]
        : account.LockoutEndTime is not null ? T.Format("admin.status.locked", Time(account.LockoutEndTime))
        : account.MustChangePassword ? $"{T["admin.status.active"]}, {T["admin.status.password"]}"
        : T["admin.status.active"];

    protected string TwoFactor(Account account) => account.TwoFactorEnabled ? T["admin.twofactor.enabled"]
        : account.TwoFactorRequired ? T["admin.twofactor.required"] : T["admin.no"];

    /// <summary>Every account (pages of 100): the admin API has no lookup by id, and accounts number in the hundreds at most.</summary>
    protected async Task<List<Account>> AllAccountsAsync(CallOptions options)
    {
        var all = new List<Account>();
        var token = "";
        do
        {
            var page = await Accounts.ListAccountsAsync(new ListAccountsRequest { PageSize = 100, PageToken = token }, options);
            all.AddRange(page.Accounts);
            token = page.NextPageToken;
        }
        while (token.Length > 0);
        return all;
    }

    /// <summary>Every credential, revoked ones too when asked (pages of 100).</summary>
    protected async Task<List<Credential>> AllCredentialsAsync(CallOptions options, bool includeRevoked)
    {
        var all = new List<Credential>();
        var token = "";
        do
        {
            var page = await Credentials.ListCredentialsAsync(new ListCredentialsRequest { PageSize = 100, PageToken = token, IncludeRevoked = includeRevoked }, options);
            all.AddRange(page.Credentials);
            token = page.NextPageToken;
        }
        while (token.Length > 0);
        return all;
    }
}
