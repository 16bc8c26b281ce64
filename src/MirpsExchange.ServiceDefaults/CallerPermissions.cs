using System.Security.Claims;
using Google.Rpc;
using Grpc.Core;

namespace MirpsExchange.ServiceDefaults;

/// <summary>
/// Checks on the authenticated caller of a gRPC call. Authentication itself (a valid token) is the
/// endpoint's RequireAuthorization (no token: UNAUTHENTICATED); these refusals are PERMISSION_DENIED
/// with an ErrorInfo reason that says what was missing.
/// </summary>
public static class CallerPermissions
{
    public static ClaimsPrincipal Caller(this ServerCallContext context) => context.GetHttpContext().User;

    /// <summary>The scopes of the caller's token ("scope" is a space-separated list in a JWT).</summary>
    public static bool HasScope(this ClaimsPrincipal user, string scope) =>
        user.FindAll("scope").Concat(user.FindAll("oi_scp")).SelectMany(c => c.Value.Split(' ')).Contains(scope);

    public static string ClientId(this ClaimsPrincipal user) => user.FindFirst("sub")?.Value ?? user.FindFirst("client_id")?.Value ?? "";

    public static RpcException Denied(string reason, string message) => RpcErrors.WithReason(Code.PermissionDenied, reason, message);

    public static void RequireScope(this ServerCallContext context, string scope)
    {
        if (!context.Caller().HasScope(scope))
        {
            throw Denied("MISSING_SCOPE", $"this call needs a token with the '{scope}' scope");
        }
    }
}
