using OpenIddict.Server;
using Microsoft.AspNetCore;
using MirpsExchange.Identity.Credentials;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace MirpsExchange.Identity.Tokens;

/// <summary>
/// Every refused client authentication at the token endpoint gets one answer, whether the client id
/// exists or not (no enumeration of client ids), is logged without the secret, and counts towards the
/// <see cref="TokenEndpointThrottle"/>.
/// </summary>
public sealed partial class ClientAuthenticationFailures(ILogger<ClientAuthenticationFailures> logger, TokenEndpointThrottle throttle) : IOpenIddictServerHandler<ApplyTokenResponseContext>
{
    public const string Description = "The client credentials are invalid.";

    /// <summary>Why a malformed client id was refused (logged; the client gets <see cref="Description"/>).</summary>
    public const string MalformedClientId = "The client id is not one the identity server issues.";

    public static OpenIddictServerHandlerDescriptor Descriptor { get; } =
        OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyTokenResponseContext>()
            .UseSingletonHandler<ClientAuthenticationFailures>()
            .SetOrder(int.MinValue + 100_000)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(ApplyTokenResponseContext context)
    {
        // RFC 7523 §3.2: a client assertion that does not authenticate the client is invalid_client. OpenIddict 7.8
        // answers a wrong aud with invalid_token and a wrong sub with invalid_grant, which would also tell a
        // guesser which part of a forged assertion was wrong; the client_credentials grant has no other source of them.
        if (!string.IsNullOrEmpty(context.Request?.ClientAssertion) && context.Response.Error is Errors.InvalidToken or Errors.InvalidGrant)
        {
            context.Response.Error = Errors.InvalidClient;
        }
        if (context.Response.Error == Errors.InvalidClient)
        {
            var http = context.Transaction.GetHttpRequest()?.HttpContext;
            var clientId = TokenEndpointThrottle.ClientIdOf(context.Request);
            var address = http is null ? "unknown" : TokenEndpointThrottle.Address(http);
            throttle.RecordFailure(clientId, address);
            // A malformed client id is not logged: it could be 16 KiB of anything, a line feed included.
            LogRefused(logger, clientId.Length == 0 || CredentialAdministration.IsWellFormedClientId(clientId)
                ? clientId : $"(malformed, {clientId.Length} characters)", address, context.Response.ErrorDescription ?? "");
            context.Response.ErrorDescription = Description;
            context.Response.ErrorUri = null;
        }
        return default;
    }

    [LoggerMessage(EventName = "ClientAuthenticationRefused", Level = LogLevel.Warning,
        Message = "Refused client authentication for client id {ClientId} from {RemoteAddress}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string clientId, string remoteAddress, string reason);
}
