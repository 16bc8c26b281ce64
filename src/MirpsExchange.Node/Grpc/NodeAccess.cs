using Grpc.Core;
using Mirps.Auth;
using MirpsExchange.ServiceDefaults;
using OpenIddict.Abstractions;

namespace MirpsExchange.Node.Grpc;

/// <summary>
/// Who may do what on a State's node, checked on the validated token of each call. Refusals are
/// PERMISSION_DENIED with an ErrorInfo reason: MISSING_SCOPE, ROLE_NOT_ALLOWED, COUNTRY_MISMATCH.
/// </summary>
public static class NodeAccess
{
    /// <summary>Submitting and deleting: a State credential of this node's own country with the submit scope.</summary>
    public static void RequireWriter(ServerCallContext context, string nodeCountry)
    {
        context.RequireScope(MirpsAuth.SubmitScope);
        var user = context.Caller();
        if (user.FindFirst(MirpsAuth.RoleClaim)?.Value != MirpsAuth.StateRole)
        {
            throw CallerPermissions.Denied("ROLE_NOT_ALLOWED", "only a State's credential writes observations");
        }
        var country = user.FindFirst(MirpsAuth.CountryClaim)?.Value;
        if (nodeCountry.Length == 0)
        {
            throw CallerPermissions.Denied("COUNTRY_MISMATCH", "the Secretariat's node replicates the States' data and accepts no writes; submit to your State's node");
        }
        if (country != nodeCountry)
        {
            throw CallerPermissions.Denied("COUNTRY_MISMATCH",
                $"this node holds {nodeCountry}'s data and only {nodeCountry}'s credentials write it; the caller's credential is {country ?? "of no country"}'s");
        }
    }

    /// <summary>
    /// For a stream, before each message: the token it was opened with must still stand. A stream may outlive
    /// its token (a slow reader, a follower); once the token is revoked (the identity server's list) or has
    /// expired, the stream ends with UNAUTHENTICATED and the reader asks for a new token and resumes.
    /// </summary>
    public static void RequireStillValid(ServerCallContext context, Extensions.RevocationList revocations, TimeProvider clock)
    {
        var user = context.Caller();
        if (revocations.Refuses(user))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "the token this stream was opened with has been revoked; ask for a new one and resume"));
        }
        if (user.GetExpirationDate() is { } expires && expires <= clock.GetUtcNow())
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "the token this stream was opened with has expired; ask for a new one and resume"));
        }
    }

    /// <summary>
    /// Reading: the read scope and a State's or the Secretariat's credential. What the reader receives is
    /// then decided change by change by the sharing policy each carries (<see cref="Sharing.SharingRules"/>).
    /// </summary>
    public static Sharing.Reader RequireReader(ServerCallContext context)
    {
        context.RequireScope(MirpsAuth.ReadScope);
        return Sharing.Reader.FromCaller(context.Caller())
            ?? throw CallerPermissions.Denied("ROLE_NOT_ALLOWED", "only a State's or the Secretariat's credential reads observations");
    }
}
