using System.Security.Cryptography;
using Google.Rpc;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.Tokens;
using Mirps.Auth;
using MirpsExchange.Catalogue;
using MirpsExchange.Identity.Keys;
using MirpsExchange.Identity.Store;
using MirpsExchange.Identity.Tokens;
using MirpsExchange.ServiceDefaults;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace MirpsExchange.Identity.Credentials;

/// <summary>
/// Issuing, rotating, re-keying and revoking country credentials: OpenIddict's application entry
/// (what the token endpoint checks) and our register entry (who it belongs to) change together, in one
/// transaction with the audit record.
/// </summary>
public sealed class CredentialAdministration(IdentityDbContext db, MirpsApplicationManager applications, StandardCatalogue catalogue, TimeProvider clock,
    SigningKeyRing signingKeys, SigningKeyStore keyStore, Microsoft.Extensions.Options.IOptions<TlsOptions> tls)
{
    public const string ClientSecretMethod = "client_secret";
    public const string PrivateKeyJwtMethod = "private_key_jwt";
    public const string TlsClientAuthMethod = "tls_client_auth";
    public static readonly TimeSpan MaxGracePeriod = TimeSpan.FromDays(7);

    /// <summary>Longest client id the token endpoint considers (issued ones have about 20 characters).</summary>
    public const int MaxClientIdLength = 100;

    /// <summary>
    /// Whether <paramref name="clientId"/> could be one this class issues: at most
    /// <see cref="MaxClientIdLength"/> characters of a-z, 0-9 and '-' (<c>blz-state-0123456789</c>,
    /// <c>secretariat-…</c>, <c>admin-…</c>). The token endpoint refuses any other at once, and keys
    /// nothing on it.
    /// </summary>
    public static bool IsWellFormedClientId(string? clientId) =>
        clientId is { Length: > 0 and <= MaxClientIdLength } && !clientId.AsSpan().ContainsAnyExcept(ClientIdCharacters);

    private static readonly System.Buffers.SearchValues<char> ClientIdCharacters = System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789-");

    /// <param name="beforeCommit">
    /// Runs with the new credential and secret inside the transaction, just before it commits: if it
    /// throws, nothing is issued (the bootstrap writes the admin's file there, so a crash cannot leave an
    /// admin row whose secret nobody has).
    /// </param>
    public async Task<(CredentialRecord Credential, string? Secret)> IssueAsync(
        string actor, string country, string role, string method, string? publicKeyJwk, string description, CancellationToken cancellationToken,
        Action<CredentialRecord, string?>? beforeCommit = null, string? certificateSubject = null, bool approve = false)
    {
        var violations = new List<(string, string)>();
        if (role is not (MirpsAuth.StateRole or MirpsAuth.SecretariatRole or MirpsAuth.AdminRole))
        {
            violations.Add(("role", "the role is required: STATE, SECRETARIAT or ADMIN"));
        }
        else if (role == MirpsAuth.StateRole && !catalogue.ReportingCountries.Contains(country))
        {
            violations.Add(("country", $"a State credential needs the ISO3 code of a MIRPS State ({string.Join(", ", catalogue.ReportingCountries.Order())}); got '{country}'"));
        }
        else if (role != MirpsAuth.StateRole && country.Length > 0)
        {
            violations.Add(("country", $"only State credentials carry a country; leave it empty for the {role} role"));
        }
        JsonWebKey? key = null;
        string? subject = null;
        if (method == PrivateKeyJwtMethod)
        {
            key = ParsePublicKey(publicKeyJwk, violations);
        }
        else if (method == TlsClientAuthMethod)
        {
            subject = ParseSubject(certificateSubject, violations);
            if (!string.IsNullOrEmpty(publicKeyJwk))
            {
                violations.Add(("public_key_jwk", "a tls_client_auth credential takes no public key: its client certificate authenticates it"));
            }
        }
        else if (method != ClientSecretMethod)
        {
            violations.Add(("authentication_method", "the authentication method is required: CLIENT_SECRET, PRIVATE_KEY_JWT or TLS_CLIENT_AUTH"));
        }
        else if (!string.IsNullOrEmpty(publicKeyJwk))
        {
            violations.Add(("public_key_jwk", "a client-secret credential takes no public key"));
        }
        if (method != TlsClientAuthMethod && !string.IsNullOrEmpty(certificateSubject))
        {
            violations.Add(("certificate_subject", "only a tls_client_auth credential registers a certificate subject"));
        }
        if (description.Length > 500)
        {
            violations.Add(("description", "the description holds at most 500 characters"));
        }
        if (approve && role == MirpsAuth.AdminRole)
        {
            violations.Add(("approve", "only a State's or the Secretariat's credential approves (a State its own figures, the Secretariat by accepting them)"));
        }
        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument($"invalid credential request: {violations[0].Item2}", violations);
        }

        var clientId = $"{(role == MirpsAuth.StateRole ? country.ToLowerInvariant() + "-" : "")}{role}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(5))}";
        if (!IsWellFormedClientId(clientId))
        {
            throw new InvalidOperationException($"Made a client id the token endpoint would refuse: '{clientId}'.");
        }
        var secret = method == ClientSecretMethod ? NewSecret() : null;
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = clientId,
            ClientType = ClientTypes.Confidential,
            DisplayName = description.Length > 0 ? description : clientId,
            Permissions = { Permissions.Endpoints.Token, Permissions.GrantTypes.ClientCredentials },
        };
        foreach (var scope in TokenEndpoint.Scopes(role, approve))
        {
            descriptor.Permissions.Add(Permissions.Prefixes.Scope + scope);
        }
        if (key is not null)
        {
            descriptor.JsonWebKeySet = new JsonWebKeySet();
            descriptor.JsonWebKeySet.Keys.Add(key);
        }
        else if (subject is not null)
        {
            // No secret and no key: only a client certificate with this subject, presented over TLS,
            // authenticates it (MirpsApplicationManager.ValidatePublicKeyInfrastructureTlsClientCertificateAsync).
            descriptor.Settings[MirpsApplicationManager.SubjectSetting] = subject;
        }
        else
        {
            descriptor.ClientSecret = secret;
        }

        var record = new CredentialRecord
        {
            ClientId = clientId,
            Country = role == MirpsAuth.StateRole ? country : "",
            Role = role,
            Method = method,
            Description = description,
            Approve = approve,
            CreateTime = clock.GetUtcNow(),
            PublicKeyId = key?.Kid,
        };
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await applications.CreateAsync(descriptor, cancellationToken);
        db.Credentials.Add(record);
        Audit(actor, "IssueCredential", clientId, $"role {role}{(record.Country.Length > 0 ? ", country " + record.Country : "")}, {method}{(key is null ? "" : ", key " + key.Kid)}{(subject is null ? "" : ", certificate subject " + subject)}");
        await db.SaveChangesAsync(cancellationToken);
        beforeCommit?.Invoke(record, secret);
        await transaction.CommitAsync(cancellationToken);
        return (record, secret);
    }

    public async Task<(CredentialRecord Credential, string Secret, DateTimeOffset PreviousSecretExpires)> RotateSecretAsync(
        string actor, string clientId, TimeSpan grace, CancellationToken cancellationToken)
    {
        if (grace < TimeSpan.Zero || grace > MaxGracePeriod)
        {
            throw RpcErrors.InvalidArgument("grace_period", $"the grace period must be between 0 and {MaxGracePeriod.TotalDays:0} days");
        }
        var (record, application) = await FindActiveAsync(clientId, cancellationToken);
        if (record.Method != ClientSecretMethod)
        {
            throw RpcErrors.WithReason(Code.FailedPrecondition, "NOT_A_SECRET_CREDENTIAL", record.Method == PrivateKeyJwtMethod
                ? $"{clientId} authenticates with private_key_jwt; register a new public key instead"
                : $"{clientId} authenticates with {record.Method} and has no secret");
        }
        var now = clock.GetUtcNow();
        var secret = NewSecret();
        await OneChangeAtATimeAsync(clientId, async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            record.PreviousSecretHash = grace > TimeSpan.Zero ? application.ClientSecret : null;
            record.PreviousSecretExpireTime = grace > TimeSpan.Zero ? now + grace : null;
            record.SecretRotateTime = now;
            if (grace == TimeSpan.Zero)
            {
                record.TokenCutoffTime = CutoffAfter(now);
            }
            await applications.UpdateAsync(application, secret, cancellationToken);
            Audit(actor, "RotateSecret", clientId, grace > TimeSpan.Zero ? $"previous secret valid until {now + grace:u}" : "previous secret revoked at once");
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        });
        if (grace == TimeSpan.Zero)
        {
            await WaitForCutoffAsync(record, cancellationToken);
        }
        return (record, secret, now + grace);
    }

    public async Task<CredentialRecord> RegisterPublicKeyAsync(string actor, string clientId, string publicKeyJwk, CancellationToken cancellationToken)
    {
        var violations = new List<(string, string)>();
        var key = ParsePublicKey(publicKeyJwk, violations);
        if (key is null)
        {
            throw RpcErrors.InvalidArgument($"invalid public key: {violations[0].Item2}", violations);
        }
        var (record, application) = await FindActiveAsync(clientId, cancellationToken);
        if (record.Method != PrivateKeyJwtMethod)
        {
            throw RpcErrors.WithReason(Code.FailedPrecondition, "NOT_A_KEY_CREDENTIAL", record.Method == ClientSecretMethod
                ? $"{clientId} authenticates with a client secret; rotate its secret instead"
                : $"{clientId} authenticates with {record.Method} and has no public key");
        }
        var descriptor = new OpenIddictApplicationDescriptor();
        await applications.PopulateAsync(descriptor, application, cancellationToken);
        descriptor.JsonWebKeySet = new JsonWebKeySet();
        descriptor.JsonWebKeySet.Keys.Add(key);
        await OneChangeAtATimeAsync(clientId, async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            await applications.UpdateAsync(application, descriptor, cancellationToken);
            Audit(actor, "RegisterPublicKey", clientId, $"key {key.Kid} replaces {record.PublicKeyId}");
            record.PublicKeyId = key.Kid;
            // A key is replaced because it may have leaked: the tokens it obtained are cut off like a secret rotated at once.
            record.TokenCutoffTime = CutoffAfter(clock.GetUtcNow());
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        });
        await WaitForCutoffAsync(record, cancellationToken);
        return record;
    }

    /// <summary>
    /// Returns once the cut-off has passed (at most about a second): the tokens the new secret or key
    /// obtains then carry an iat at or after the cut-off, so the revocation list refuses the old ones' tokens, not theirs.
    /// </summary>
    private async Task WaitForCutoffAsync(CredentialRecord record, CancellationToken cancellationToken)
    {
        var cutoff = await CutOffAfterCommitAsync(record, cancellationToken);
        // A timer may fire up to a millisecond before the wall clock reaches its time (it counts whole
        // milliseconds of another clock): a token issued then would carry the second before the cut-off.
        for (var wait = cutoff - clock.GetUtcNow(); wait > TimeSpan.Zero; wait = cutoff - clock.GetUtcNow())
        {
            await Task.Delay(wait + TimeSpan.FromMilliseconds(1), clock, cancellationToken);
        }
    }

    public async Task<CredentialRecord> RevokeAsync(string actor, string clientId, string reason, CancellationToken cancellationToken)
    {
        var (record, application) = await FindActiveAsync(clientId, cancellationToken);
        await OneChangeAtATimeAsync(clientId, async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            record.RevokeTime = clock.GetUtcNow();
            record.TokenCutoffTime = CutoffAfter(record.RevokeTime.Value);
            record.PreviousSecretHash = null;
            await applications.DeleteAsync(application, cancellationToken);
            Audit(actor, "RevokeCredential", clientId, reason.Length > 0 ? reason[..Math.Min(reason.Length, 500)] : "no reason given");
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        });
        await CutOffAfterCommitAsync(record, cancellationToken);
        return record;
    }

    /// <summary>
    /// Marks the signing key that signs now, and any earlier key still published, compromised: a new key
    /// signs from this moment, the old ones leave the JWKS at once and are named in the revocation list, so
    /// nodes refuse their tokens.
    /// </summary>
    public async Task<(string Compromised, string Signing, DateTimeOffset Time)> RollSigningKeyAsync(string actor, string reason)
    {
        var now = clock.GetUtcNow();
        // Rolled first, then audited with what happened: the ring serializes concurrent rolls, and each
        // record names the keys it actually marked.
        var (old, all, signing) = signingKeys.RollCompromised(keyStore, now);
        var also = all.Count > 1 ? $" (with the earlier published {string.Join(", ", all.Skip(1))})" : "";
        Audit(actor, "RollSigningKey", "", $"signing key {old}{also} marked compromised, {signing} signs from now on: {(reason.Length > 0 ? reason[..Math.Min(reason.Length, 500)] : "no reason given")}");
        await db.SaveChangesAsync(CancellationToken.None);
        return (old, signing, now);
    }

    /// <summary>The whole second after <paramref name="time"/>: tokens with an iat before it (iat is in whole seconds) were issued by then.</summary>
    private static DateTimeOffset CutoffAfter(DateTimeOffset time) => DateTimeOffset.FromUnixTimeSeconds(time.ToUnixTimeSeconds() + 1);

    /// <summary>
    /// The old secret (or the revoked application) kept working until the commit: when the commit ended
    /// in a later second than the change began, the cut-off moves to the second after the commit.
    /// </summary>
    private async Task<DateTimeOffset> CutOffAfterCommitAsync(CredentialRecord record, CancellationToken cancellationToken)
    {
        var cutoff = CutoffAfter(clock.GetUtcNow());
        if (record.TokenCutoffTime < cutoff)
        {
            record.TokenCutoffTime = cutoff;
            await db.SaveChangesAsync(CancellationToken.None);
        }
        return record.TokenCutoffTime ?? cutoff;
    }

    private async Task<(CredentialRecord, OpenIddict.EntityFrameworkCore.Models.OpenIddictEntityFrameworkCoreApplication)> FindActiveAsync(string clientId, CancellationToken cancellationToken)
    {
        var record = await db.Credentials.FirstOrDefaultAsync(c => c.ClientId == clientId, cancellationToken)
            ?? throw RpcErrors.WithReason(Code.NotFound, "CREDENTIAL_NOT_FOUND", $"no credential has the client id '{clientId}'");
        if (record.RevokeTime is not null)
        {
            throw RpcErrors.WithReason(Code.FailedPrecondition, "CREDENTIAL_REVOKED", $"{clientId} was revoked at {record.RevokeTime:u}; issue a new credential");
        }
        var application = await applications.FindByClientIdAsync(clientId, cancellationToken)
            ?? throw new InvalidOperationException($"The register lists {clientId} as active but OpenIddict has no application for it.");
        return (record, application);
    }

    /// <summary>
    /// Two admins (or a client's retry) changing one credential at once: both read the same OpenIddict
    /// application entry, whose concurrency token makes the later write fail and roll back. That caller
    /// gets ABORTED (read again, then retry), not an internal error; the earlier change stands whole.
    /// </summary>
    private static async Task OneChangeAtATimeAsync(string clientId, Func<Task> change)
    {
        try
        {
            await change();
        }
        catch (Exception e) when (e is OpenIddictExceptions.ConcurrencyException or DbUpdateConcurrencyException)
        {
            throw RpcErrors.WithReason(Code.Aborted, "CONCURRENT_CHANGE",
                $"{clientId} was changed by another request at the same time; this request changed nothing: read the credential again and retry",
                new Dictionary<string, string> { ["client_id"] = clientId });
        }
    }

    private void Audit(string actor, string action, string clientId, string detail) => Audit(db, clock, actor, action, clientId, detail);

    /// <summary>Adds an audit record to <paramref name="db"/>, saved with the change it records.</summary>
    internal static void Audit(IdentityDbContext db, TimeProvider clock, string actor, string action, string clientId, string detail) => db.AuditEvents.Add(new AuditRecord
    {
        Time = clock.GetUtcNow().UtcTicks,
        Actor = actor,
        Action = action,
        ClientId = clientId,
        Detail = detail,
    });

    /// <summary>A tls_client_auth credential's subject, normalised; only where the identity server serves TLS, as nothing else could ever present the certificate.</summary>
    private string? ParseSubject(string? subject, List<(string, string)> violations)
    {
        if (!tls.Value.Enabled)
        {
            violations.Add(("authentication_method", "tls_client_auth needs the identity server to serve TLS (Tls:CertificateFile, Tls:KeyFile, Tls:CaFile): "
                + "without it no client certificate is ever presented, so the credential could never authenticate"));
            return null;
        }
        if (string.IsNullOrWhiteSpace(subject) || subject.Length > 1000)
        {
            violations.Add(("certificate_subject", "a tls_client_auth credential needs the subject of its client certificate: a distinguished name or a SAN such as urn:mirps:PAN, of at most 1000 characters"));
            return null;
        }
        var normalized = CertificateSubject.Normalize(subject, out var reason);
        if (normalized is null)
        {
            violations.Add(("certificate_subject", reason));
        }
        return normalized;
    }

    private static string NewSecret() => Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));

    /// <summary>Shorter RSA keys can be factored by a well-funded attacker, who could then sign assertions as the State (NIST SP 800-131A).</summary>
    public const int MinRsaKeyBits = 2048;

    private static long RsaModulusBits(JsonWebKey key)
    {
        try
        {
            return string.IsNullOrEmpty(key.N) ? 0 : new System.Numerics.BigInteger(Base64UrlEncoder.DecodeBytes(key.N), isUnsigned: true, isBigEndian: true).GetBitLength();
        }
        catch (FormatException)
        {
            return 0;
        }
    }

    private static JsonWebKey? ParsePublicKey(string? json, List<(string, string)> violations)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            violations.Add(("public_key_jwk", "a private_key_jwt credential needs the client's public key as a JSON Web Key"));
            return null;
        }
        JsonWebKey key;
        try
        {
            key = new JsonWebKey(json);
        }
        catch (ArgumentException e)
        {
            violations.Add(("public_key_jwk", $"not a JSON Web Key: {e.Message}"));
            return null;
        }
        if (key.Kty is not ("RSA" or "EC"))
        {
            violations.Add(("public_key_jwk", $"the key type must be RSA or EC, not '{key.Kty}'"));
        }
        else if (new[] { key.D, key.P, key.Q, key.DP, key.DQ, key.QI, key.K }.Any(part => !string.IsNullOrEmpty(part)))
        {
            violations.Add(("public_key_jwk", "this JSON Web Key holds a private key: send only the public part; the private key never leaves the client"));
        }
        else if (key.Kty == "RSA" && RsaModulusBits(key) < MinRsaKeyBits)
        {
            violations.Add(("public_key_jwk", $"an RSA key needs a modulus of at least {MinRsaKeyBits} bits; this one has {RsaModulusBits(key)}"));
        }
        if (string.IsNullOrEmpty(key.Kid))
        {
            violations.Add(("public_key_jwk", "the key needs a key id (\"kid\")"));
        }
        if (violations.Count > 0)
        {
            return null;
        }
        key.Use ??= "sig";
        return key;
    }
}
