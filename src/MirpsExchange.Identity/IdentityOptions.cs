using Microsoft.Extensions.Options;

namespace MirpsExchange.Identity;

/// <summary>Configuration section "Identity" (appsettings.json or environment variables such as Identity__Issuer).</summary>
public sealed class IdentityOptions
{
    public const string Section = "Identity";

    /// <summary>
    /// The issuer URL exactly as tokens carry it and nodes expect it, trailing slash included, for example
    /// https://identity.mirps.example/. Empty: the address the server listens on (local use only).
    /// </summary>
    public string Issuer { get; set; } = "";

    /// <summary>Folder of the store (identity.db), the signing keys (keys/) and the bootstrap admin credential.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>The IP address to listen on: 127.0.0.1 by default; another (0.0.0.0 for every interface) only with TLS.</summary>
    public string? ListenAddress { get; set; }

    /// <summary>TCP port on 127.0.0.1 of the OAuth2 endpoints (discovery, JWKS, token); 0 picks a free port.</summary>
    public int Port { get; set; } = 5000;

    /// <summary>
    /// TCP port on 127.0.0.1 of the gRPC admin API (CredentialService, health). Without TLS, HTTP/2
    /// (gRPC) and HTTP/1.1 (what OAuth2 clients speak) cannot share a port; 0 picks a free port. With TLS
    /// (Tls:CertificateFile) it is not used: <see cref="Port"/> serves both, the protocol chosen by ALPN.
    /// </summary>
    public int GrpcPort { get; set; } = 5001;

    /// <summary>Optional file the server writes its two addresses to once it listens: OAuth2 first, gRPC second.</summary>
    public string? AddressFile { get; set; }

    /// <summary>
    /// Lifetime of access tokens. A revoked credential's tokens are refused at nodes within a minute through
    /// the revocation list, whose entries stay for this long (plus clock skew) after each change.
    /// </summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// How long a person's sign-in may be kept alive by refresh tokens (asked for with the offline_access scope, as
    /// `mirps login` does), counted from the sign-in, not from the last refresh: after it, the person signs in again.
    /// Each refresh token is used once (a new one comes with each refresh); a replayed one revokes every refresh token
    /// of that sign-in, and disabling the account or resetting its password revokes them too.
    /// </summary>
    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>
    /// With TLS, the PEM client certificate (of the admin party, for example certs/admin-client.crt from `mirps certs create`)
    /// the admin pages (/admin) present to this server: an admin's token is redeemed over mutual TLS and bound to it, and the
    /// pages call the admin API with it. Empty with TLS: no one can sign in to the admin pages (the token endpoint refuses a
    /// redemption without a client certificate); `mirps devnet --tls` sets it.
    /// </summary>
    public string AdminWebCertificateFile { get; set; } = "";

    /// <summary>Private key (PEM) of <see cref="AdminWebCertificateFile"/>, readable only by the service's user.</summary>
    public string AdminWebKeyFile { get; set; } = "";

    /// <summary>
    /// Refused client authentications per client id from one remote address per minute before the token
    /// endpoint answers 429 to that address for that id. Nothing is counted per client id over all
    /// addresses: a client id is no secret, and such a count would let outsiders lock the client out.
    /// </summary>
    public int FailedAuthenticationsPerClientAndAddress { get; set; } = 10;

    /// <summary>Refused client authentications per remote address (IPv6: per /64) per minute before it answers 429 for that address.</summary>
    public int FailedAuthenticationsPerAddress { get; set; } = 30;

    /// <summary>
    /// Authenticated token requests per client per minute before the token endpoint answers 429 to that
    /// client: each costs a PBKDF2 hash or a signature check, and a signature. A node asks for one token
    /// per audience per token lifetime (15 minutes), about ten at start-up; 60 leaves room for restarts
    /// and for people running the CLI, while one credential holder can take under 1% of what the server
    /// issues on 2 cores (130 to 280 tokens a second, README's auth benchmark).
    /// </summary>
    public int TokensPerClientPerMinute { get; set; } = 60;

    /// <summary>
    /// Wrong TOTP codes in a row before a person's account is locked out for <see cref="SignInLockout"/>
    /// (ASP.NET Core Identity's lockout). Only someone who knows the password reaches the code, so only
    /// they can lock an account; wrong passwords never lock it (see <see cref="SignInFailuresPerAccountAndAddress"/>).
    /// </summary>
    public int SignInFailuresBeforeLockout { get; set; } = 5;

    /// <summary>
    /// How long a person's account stays locked out after <see cref="SignInFailuresBeforeLockout"/> wrong codes,
    /// and the window over which wrong passwords are counted per (user name, address) and per address.
    /// </summary>
    public TimeSpan SignInLockout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// Wrong passwords (unknown user names and disabled accounts alike) for one user name from one remote
    /// address within <see cref="SignInLockout"/> before that address's logins for that name are answered 429.
    /// </summary>
    public int SignInFailuresPerAccountAndAddress { get; set; } = 5;

    /// <summary>
    /// Wrong passwords for one user name from all addresses together within <see cref="SignInLockout"/> before
    /// its logins are answered 429 from every address that has not given its right password in the last 30 days.
    /// It slows guesses spread over many addresses; it never locks the owner out of an address they used before.
    /// </summary>
    public int SignInFailuresPerAccount { get; set; } = 20;

    /// <summary>Wrong passwords from one remote address (IPv6: per /64), whatever the user name, within <see cref="SignInLockout"/> before its logins are answered 429.</summary>
    public int SignInFailuresPerAddress { get; set; } = 30;

    /// <summary>Sign-in forms (login, code, enrolment, password change) posted from one remote address per minute before it is answered 429.</summary>
    public int SignInPostsPerAddressPerMinute { get; set; } = 60;

    /// <summary>A new signing key is made when the newest one is older than this; the previous one stays published until its tokens have expired.</summary>
    public TimeSpan SigningKeyRollover { get; set; } = TimeSpan.FromDays(90);
}

/// <summary>Refuses to start with limits that would throttle nothing or everything.</summary>
public sealed class IdentityOptionsValidation : IValidateOptions<IdentityOptions>
{
    public ValidateOptionsResult Validate(string? name, IdentityOptions options)
    {
        var failures = new List<string>();
        foreach (var (key, value) in new[]
        {
            (nameof(IdentityOptions.FailedAuthenticationsPerClientAndAddress), options.FailedAuthenticationsPerClientAndAddress),
            (nameof(IdentityOptions.FailedAuthenticationsPerAddress), options.FailedAuthenticationsPerAddress),
            (nameof(IdentityOptions.TokensPerClientPerMinute), options.TokensPerClientPerMinute),
            (nameof(IdentityOptions.SignInFailuresBeforeLockout), options.SignInFailuresBeforeLockout),
            (nameof(IdentityOptions.SignInFailuresPerAccountAndAddress), options.SignInFailuresPerAccountAndAddress),
            (nameof(IdentityOptions.SignInFailuresPerAddress), options.SignInFailuresPerAddress),
            (nameof(IdentityOptions.SignInFailuresPerAccount), options.SignInFailuresPerAccount),
            (nameof(IdentityOptions.SignInPostsPerAddressPerMinute), options.SignInPostsPerAddressPerMinute),
        })
        {
            if (value < 1)
            {
                failures.Add($"{IdentityOptions.Section}:{key} must be at least 1; got {value}.");
            }
        }
        if (options.RefreshTokenLifetime <= TimeSpan.Zero)
        {
            failures.Add($"{IdentityOptions.Section}:{nameof(IdentityOptions.RefreshTokenLifetime)} must be positive; got {options.RefreshTokenLifetime}.");
        }
        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }
}
