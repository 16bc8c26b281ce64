namespace Mirps.Auth;

/// <summary>
/// The authorization contract between the identity server, nodes and clients: scopes, audiences and
/// the custom claims access tokens carry. Part of the public contract, like the protos.
/// </summary>
public static class MirpsAuth
{
    /// <summary>Read observations (and, later, the change feed).</summary>
    public const string ReadScope = "mirps.read";

    /// <summary>Submit and delete one's own country's observations.</summary>
    public const string SubmitScope = "mirps.submit";

    /// <summary>
    /// Approve one's own State's figures (a State's credential or account) or accept and reject them (the Secretariat's):
    /// the reporting cycle (ApprovalService). Only credentials issued with it (IssueCredentialRequest.approve) and
    /// approver accounts hold it; asked for explicitly, never granted by default.
    /// </summary>
    public const string ApproveScope = "mirps.approve";

    /// <summary>Administer credentials at the identity server.</summary>
    public const string AdminScope = "mirps.admin";

    /// <summary>
    /// Prefix of the audience of tokens for nodes (the read and submit scopes): every node has its own,
    /// <c>mirps-node:PAN</c> for Panama's node and <c>mirps-node:secretariat</c> for the Secretariat's,
    /// and accepts no other, so a token one node receives is worth nothing at any other. A client names
    /// the node it will call with the RFC 8707 <c>resource</c> parameter of its token request.
    /// </summary>
    public const string NodeAudiencePrefix = "mirps-node:";

    /// <summary>What names the Secretariat where a State would be named by its ISO3 code (audiences, peers).</summary>
    public const string Secretariat = "secretariat";

    /// <summary>
    /// The audience of the node of <paramref name="country"/> (an ISO3 code), or of the Secretariat's node
    /// for an empty country or "secretariat": <c>mirps-node:PAN</c>, <c>mirps-node:secretariat</c>.
    /// </summary>
    public static string NodeAudience(string? country) =>
        NodeAudiencePrefix + (string.IsNullOrEmpty(country) || string.Equals(country, Secretariat, StringComparison.OrdinalIgnoreCase)
            ? Secretariat
            : country.ToUpperInvariant());

    /// <summary>Audience of tokens for the identity server's admin API.</summary>
    public const string IdentityAudience = "mirps-identity";

    /// <summary>ISO 3166-1 alpha-3 of the caller's State (state role only).</summary>
    public const string CountryClaim = "country";

    /// <summary>"state", "secretariat" or "admin".</summary>
    public const string RoleClaim = "role";

    public const string StateRole = "state";
    public const string SecretariatRole = "secretariat";
    public const string AdminRole = "admin";

    public const string TokenEndpointPath = "connect/token";
}
