using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Mirps.Auth;
using Mirps.Identity.V1;
using MirpsExchange.Identity.Credentials;
using MirpsExchange.Identity.Store;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Identity.Grpc;

/// <summary>The admin API over <see cref="CredentialAdministration"/>; every call needs the admin scope.</summary>
public sealed class CredentialGrpcService(CredentialAdministration administration, LogKeyAdministration logKeys, IdentityDbContext db) : CredentialService.CredentialServiceBase
{
    public override async Task<IssueCredentialResponse> IssueCredential(IssueCredentialRequest request, ServerCallContext context)
    {
        var actor = await AdminAsync(context);
        var (credential, secret) = await administration.IssueAsync(actor, request.Country, RoleName(request.Role), MethodName(request.AuthenticationMethod),
            request.PublicKeyJwk, request.Description, context.CancellationToken, certificateSubject: request.CertificateSubject, approve: request.Approve);
        return new IssueCredentialResponse { Credential = ToMessage(credential), ClientSecret = secret ?? "" };
    }

    public override async Task<ListCredentialsResponse> ListCredentials(ListCredentialsRequest request, ServerCallContext context)
    {
        await AdminAsync(context);
        var size = PageSize(request.PageSize, 50, 100);
        var query = db.Credentials.AsNoTracking().Where(c => string.Compare(c.ClientId, request.PageToken) > 0);
        if (!request.IncludeRevoked)
        {
            query = query.Where(c => c.RevokeTime == null);
        }
        var page = await query.OrderBy(c => c.ClientId).Take(size + 1).ToListAsync(context.CancellationToken);
        var response = new ListCredentialsResponse { Credentials = { page.Take(size).Select(ToMessage) } };
        if (page.Count > size)
        {
            response.NextPageToken = page[size - 1].ClientId;
        }
        return response;
    }

    public override async Task<RotateSecretResponse> RotateSecret(RotateSecretRequest request, ServerCallContext context)
    {
        var actor = await AdminAsync(context);
        var grace = request.GracePeriod?.ToTimeSpan() ?? TimeSpan.Zero;
        var (credential, secret, expires) = await administration.RotateSecretAsync(actor, request.ClientId, grace, context.CancellationToken);
        return new RotateSecretResponse { Credential = ToMessage(credential), ClientSecret = secret, PreviousSecretExpireTime = Timestamp.FromDateTimeOffset(expires) };
    }

    public override async Task<RegisterPublicKeyResponse> RegisterPublicKey(RegisterPublicKeyRequest request, ServerCallContext context)
    {
        var actor = await AdminAsync(context);
        var credential = await administration.RegisterPublicKeyAsync(actor, request.ClientId, request.PublicKeyJwk, context.CancellationToken);
        return new RegisterPublicKeyResponse { Credential = ToMessage(credential) };
    }

    public override async Task<RevokeCredentialResponse> RevokeCredential(RevokeCredentialRequest request, ServerCallContext context)
    {
        var actor = await AdminAsync(context);
        var credential = await administration.RevokeAsync(actor, request.ClientId, request.Reason, context.CancellationToken);
        return new RevokeCredentialResponse { Credential = ToMessage(credential) };
    }

    public override async Task<RollSigningKeyResponse> RollSigningKey(RollSigningKeyRequest request, ServerCallContext context)
    {
        var actor = await AdminAsync(context);
        var (compromised, signing, time) = await administration.RollSigningKeyAsync(actor, request.Reason);
        return new RollSigningKeyResponse { CompromisedKeyId = compromised, SigningKeyId = signing, RollTime = Timestamp.FromDateTimeOffset(time) };
    }

    public override async Task<ListAuditEventsResponse> ListAuditEvents(ListAuditEventsRequest request, ServerCallContext context)
    {
        await AdminAsync(context);
        var size = PageSize(request.PageSize, 100, 500);
        var before = long.TryParse(request.PageToken, out var token) ? token : long.MaxValue;
        var page = await db.AuditEvents.AsNoTracking().Where(a => a.Id < before).OrderByDescending(a => a.Id).Take(size + 1).ToListAsync(context.CancellationToken);
        var response = new ListAuditEventsResponse
        {
            Events =
            {
                page.Take(size).Select(a => new AuditEvent
                {
                    Id = a.Id,
                    Time = Timestamp.FromDateTimeOffset(new DateTimeOffset(a.Time, TimeSpan.Zero)),
                    Actor = a.Actor,
                    Action = a.Action,
                    ClientId = a.ClientId,
                    Detail = a.Detail,
                }),
            },
        };
        if (page.Count > size)
        {
            response.NextPageToken = page[size - 1].Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        return response;
    }

    public override async Task<RegisterLogKeyResponse> RegisterLogKey(RegisterLogKeyRequest request, ServerCallContext context)
    {
        var actor = await AdminAsync(context);
        var key = await logKeys.RegisterAsync(actor, request.Country, request.PublicKey.ToByteArray(), context.CancellationToken);
        return new RegisterLogKeyResponse { KeyId = key.KeyId, RegisterTime = Timestamp.FromDateTimeOffset(key.RegisterTime) };
    }

    public override async Task<ListLogKeysResponse> ListLogKeys(ListLogKeysRequest request, ServerCallContext context)
    {
        await AdminAsync(context);
        var size = PageSize(request.PageSize, 100, 500);
        var page = await db.LogKeys.AsNoTracking().Where(k => string.Compare(k.KeyId, request.PageToken) > 0)
            .OrderBy(k => k.KeyId).Take(size + 1).ToListAsync(context.CancellationToken);
        var response = new ListLogKeysResponse { LogKeys = { page.Take(size).Select(ToMessage) } };
        if (page.Count > size)
        {
            response.NextPageToken = page[size - 1].KeyId;
        }
        return response;
    }

    public override async Task<RetireLogKeyResponse> RetireLogKey(RetireLogKeyRequest request, ServerCallContext context)
    {
        var actor = await AdminAsync(context);
        var key = await logKeys.RetireAsync(actor, request.KeyId, request.Reason, request.Country, context.CancellationToken);
        return new RetireLogKeyResponse { LogKey = ToMessage(key) };
    }

    private static LogKey ToMessage(LogKeyRecord record)
    {
        var message = new LogKey
        {
            Country = record.Country,
            KeyId = record.KeyId,
            PublicKey = Google.Protobuf.ByteString.CopyFrom(record.PublicKey),
            RegisterTime = Timestamp.FromDateTimeOffset(record.RegisterTime),
        };
        if (record.RetireTime is { } retired)
        {
            message.RetireTime = Timestamp.FromDateTimeOffset(retired);
        }
        return message;
    }

    private Task<string> AdminAsync(ServerCallContext context) => AdminAsync(context, db);

    /// <summary>
    /// The calling admin's client id (or admin account's id), once its token has the admin scope and its
    /// credential or account still stands: this server validates its own admin tokens locally (no token
    /// storage), so a credential revoked, or whose secret was rotated at once, or an account disabled,
    /// would otherwise keep its admin tokens until they expire. Nodes learn of it from the revocation list;
    /// here the register is at hand, read on every call.
    /// </summary>
    internal static async Task<string> AdminAsync(ServerCallContext context, IdentityDbContext db)
    {
        context.RequireScope(MirpsAuth.AdminScope);
        var clientId = context.Caller().ClientId();
        var standing = await db.Credentials.AsNoTracking()
            .Where(c => c.ClientId == clientId)
            .Select(c => new { Gone = c.RevokeTime != null, c.TokenCutoffTime })
            .FirstOrDefaultAsync(context.CancellationToken)
            ?? await db.Users.AsNoTracking()
                .Where(a => a.Id == clientId && a.Kind == Accounts.AccountUser.AdminKind)
                .Select(a => new { Gone = a.DisableTime != null, a.TokenCutoffTime })
                .FirstOrDefaultAsync(context.CancellationToken);
        var issued = long.TryParse(context.GetHttpContext().User.FindFirst("iat")?.Value, out var iat) ? iat : 0;
        if (standing is null || standing.Gone || (standing.TokenCutoffTime is { } cutoff && issued < cutoff.ToUnixTimeSeconds()))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "the admin credential or account behind this token was revoked or disabled, or its secret or password replaced since the token was issued"));
        }
        return clientId;
    }

    internal static int PageSize(int requested, int fallback, int max) => requested switch
    {
        0 => fallback,
        < 0 => throw RpcErrors.InvalidArgument("page_size", "the page size must not be negative"),
        _ => Math.Min(requested, max),
    };

    private static string RoleName(Role role) => role switch
    {
        Role.State => MirpsAuth.StateRole,
        Role.Secretariat => MirpsAuth.SecretariatRole,
        Role.Admin => MirpsAuth.AdminRole,
        _ => "",
    };

    private static string MethodName(AuthenticationMethod method) => method switch
    {
        AuthenticationMethod.ClientSecret => CredentialAdministration.ClientSecretMethod,
        AuthenticationMethod.PrivateKeyJwt => CredentialAdministration.PrivateKeyJwtMethod,
        AuthenticationMethod.TlsClientAuth => CredentialAdministration.TlsClientAuthMethod,
        _ => "",
    };

    internal static Credential ToMessage(CredentialRecord record)
    {
        var message = new Credential
        {
            ClientId = record.ClientId,
            Country = record.Country,
            Role = record.Role switch
            {
                MirpsAuth.StateRole => Role.State,
                MirpsAuth.SecretariatRole => Role.Secretariat,
                MirpsAuth.AdminRole => Role.Admin,
                _ => Role.Unspecified,
            },
            AuthenticationMethod = record.Method switch
            {
                CredentialAdministration.PrivateKeyJwtMethod => AuthenticationMethod.PrivateKeyJwt,
                CredentialAdministration.TlsClientAuthMethod => AuthenticationMethod.TlsClientAuth,
                _ => AuthenticationMethod.ClientSecret,
            },
            Description = record.Description,
            CreateTime = Timestamp.FromDateTimeOffset(record.CreateTime),
            PublicKeyId = record.PublicKeyId ?? "",
            Approve = record.Approve,
            Scopes = { Tokens.TokenEndpoint.Scopes(record.Role, record.Approve) },
        };
        if (record.RevokeTime is { } revoked)
        {
            message.RevokeTime = Timestamp.FromDateTimeOffset(revoked);
        }
        if (record.SecretRotateTime is { } rotated)
        {
            message.SecretRotateTime = Timestamp.FromDateTimeOffset(rotated);
        }
        return message;
    }
}
