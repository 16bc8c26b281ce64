using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Mirps.Identity.V1;
using MirpsExchange.Identity.Accounts;
using MirpsExchange.Identity.Store;

namespace MirpsExchange.Identity.Grpc;

/// <summary>The admin API over <see cref="AccountAdministration"/>; every call needs the admin scope, as CredentialService's.</summary>
public sealed class AccountGrpcService(AccountAdministration administration, IdentityDbContext db, TimeProvider clock) : AccountService.AccountServiceBase
{
    public override async Task<CreateAccountResponse> CreateAccount(CreateAccountRequest request, ServerCallContext context)
    {
        var actor = await CredentialGrpcService.AdminAsync(context, db);
        var (account, password) = await administration.CreateAsync(actor, request.UserName, KindName(request.Kind), request.Country, request.Secretariat,
            request.DisplayName, request.RequireTwoFactor, context.CancellationToken);
        return new CreateAccountResponse { Account = ToMessage(account), TemporaryPassword = password };
    }

    public override async Task<ListAccountsResponse> ListAccounts(ListAccountsRequest request, ServerCallContext context)
    {
        await CredentialGrpcService.AdminAsync(context, db);
        var size = CredentialGrpcService.PageSize(request.PageSize, 50, 100);
        var page = await db.Users.AsNoTracking().Where(a => string.Compare(a.UserName, request.PageToken) > 0)
            .OrderBy(a => a.UserName).Take(size + 1).ToListAsync(context.CancellationToken);
        var response = new ListAccountsResponse { Accounts = { page.Take(size).Select(ToMessage) } };
        if (page.Count > size)
        {
            response.NextPageToken = page[size - 1].UserName;
        }
        return response;
    }

    public override async Task<DisableAccountResponse> DisableAccount(DisableAccountRequest request, ServerCallContext context)
    {
        var actor = await CredentialGrpcService.AdminAsync(context, db);
        return new DisableAccountResponse { Account = ToMessage(await administration.DisableAsync(actor, request.AccountId, request.Reason, context.CancellationToken)) };
    }

    public override async Task<EnableAccountResponse> EnableAccount(EnableAccountRequest request, ServerCallContext context)
    {
        var actor = await CredentialGrpcService.AdminAsync(context, db);
        return new EnableAccountResponse { Account = ToMessage(await administration.EnableAsync(actor, request.AccountId, request.Reason, context.CancellationToken)) };
    }

    public override async Task<ResetPasswordResponse> ResetPassword(ResetPasswordRequest request, ServerCallContext context)
    {
        var actor = await CredentialGrpcService.AdminAsync(context, db);
        var (account, password) = await administration.ResetPasswordAsync(actor, request.AccountId, request.Reason, context.CancellationToken);
        return new ResetPasswordResponse { Account = ToMessage(account), TemporaryPassword = password };
    }

    public override async Task<ResetTwoFactorResponse> ResetTwoFactor(ResetTwoFactorRequest request, ServerCallContext context)
    {
        var actor = await CredentialGrpcService.AdminAsync(context, db);
        return new ResetTwoFactorResponse { Account = ToMessage(await administration.ResetTwoFactorAsync(actor, request.AccountId, request.Reason, context.CancellationToken)) };
    }

    public override async Task<RegisterPublicClientResponse> RegisterPublicClient(RegisterPublicClientRequest request, ServerCallContext context)
    {
        var actor = await CredentialGrpcService.AdminAsync(context, db);
        var (clientId, uris) = await administration.RegisterPublicClientAsync(actor, request.RedirectUris, request.Description, context.CancellationToken);
        return new RegisterPublicClientResponse { ClientId = clientId, RedirectUris = { uris } };
    }

    private static string KindName(AccountKind kind) => kind switch
    {
        AccountKind.Analyst => AccountUser.AnalystKind,
        AccountKind.Submitter => AccountUser.SubmitterKind,
        AccountKind.Approver => AccountUser.ApproverKind,
        AccountKind.Admin => AccountUser.AdminKind,
        _ => "",
    };

    private Account ToMessage(AccountUser account)
    {
        var message = new Account
        {
            AccountId = account.Id,
            UserName = account.UserName ?? "",
            Kind = account.Kind switch
            {
                AccountUser.AnalystKind => AccountKind.Analyst,
                AccountUser.SubmitterKind => AccountKind.Submitter,
                AccountUser.ApproverKind => AccountKind.Approver,
                AccountUser.AdminKind => AccountKind.Admin,
                _ => AccountKind.Unspecified,
            },
            Country = account.Country,
            Role = account.Role,
            DisplayName = account.DisplayName,
            CreateTime = Timestamp.FromDateTimeOffset(account.CreateTime),
            TwoFactorEnabled = account.TwoFactorEnabled,
            TwoFactorRequired = account.TwoFactorRequired,
            MustChangePassword = account.MustChangePassword,
            Scopes = { account.Scopes },
        };
        if (account.DisableTime is { } disabled)
        {
            message.DisableTime = Timestamp.FromDateTimeOffset(disabled);
        }
        if (account.LockoutEnd is { } lockout && lockout > clock.GetUtcNow())
        {
            message.LockoutEndTime = Timestamp.FromDateTimeOffset(lockout);
        }
        return message;
    }
}
