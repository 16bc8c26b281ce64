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

    /// <summary>Administer credentials at the identity server.</summary>
    public const string AdminScope = "mirps.admin";

    /// <summary>Audience of tokens for nodes (the read and submit scopes).</summary>
    public const string NodeAudience = "mirps-node";

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
