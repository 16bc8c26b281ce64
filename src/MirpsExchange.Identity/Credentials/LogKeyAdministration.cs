using Google.Rpc;
using Microsoft.EntityFrameworkCore;
using Mirps.Auth;
using MirpsExchange.Catalogue;
using MirpsExchange.Identity.Store;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Identity.Credentials;

/// <summary>
/// The States' (and the Secretariat's) log-signing public keys (<see cref="LogKeys"/>): registered and retired by an admin, each
/// change audited, all of them published to every node in the signed revocation list
/// (<see cref="Revocation.RevocationList"/>, which the audit record's new id makes newer).
/// </summary>
public sealed class LogKeyAdministration(IdentityDbContext db, StandardCatalogue catalogue, TimeProvider clock)
{
    /// <summary>
    /// Whether <paramref name="country"/> signs a log: a MIRPS State (its change and lifecycle logs), or the Secretariat
    /// ("secretariat", <see cref="MirpsAuth.Secretariat"/>: its decision log, protos/README.md "Approval").
    /// </summary>
    private bool OwnsALog(string country) => country == MirpsAuth.Secretariat || catalogue.ReportingCountries.Contains(country);

    private string Owners(string country) =>
        $"a log key belongs to a MIRPS State, by its ISO3 code ({string.Join(", ", catalogue.ReportingCountries.Order())}), or to the Secretariat ({MirpsAuth.Secretariat}); got '{country}'";

    /// <summary>Far more than a P-256 SubjectPublicKeyInfo (91 bytes); anything longer is refused unread.</summary>
    private const int MaxPublicKeyBytes = 1024;

    /// <summary>
    /// Registers <paramref name="spki"/> as a log-signing key of <paramref name="country"/>. The same key again
    /// for the same State answers as the first time and writes nothing; a key of another State is refused.
    /// </summary>
    public async Task<LogKeyRecord> RegisterAsync(string actor, string country, byte[] spki, CancellationToken cancellationToken)
    {
        var violations = new List<(string, string)>();
        if (!OwnsALog(country))
        {
            violations.Add(("country", Owners(country)));
        }
        if (spki.Length == 0)
        {
            violations.Add(("public_key", "the ECDSA P-256 public key is required, as SubjectPublicKeyInfo DER bytes"));
        }
        else if (spki.Length > MaxPublicKeyBytes || !LogKeys.TryImport(spki, out var key))
        {
            violations.Add(("public_key", "not an ECDSA P-256 public key as SubjectPublicKeyInfo DER bytes (PEM \"PUBLIC KEY\" body, named curve, uncompressed point)"));
        }
        else
        {
            key!.Dispose();
        }
        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument($"invalid log key: {violations[0].Item2}", violations);
        }

        var keyId = LogKeys.KeyId(spki);
        // Two registrations of one key at once: the later insert fails on the key id, and reads the first one's row.
        for (var attempt = 0; ; attempt++)
        {
            var existing = await db.LogKeys.AsNoTracking().FirstOrDefaultAsync(k => k.KeyId == keyId, cancellationToken);
            if (existing is not null)
            {
                if (existing.Country != country)
                {
                    throw RpcErrors.WithReason(Code.AlreadyExists, "LOG_KEY_OF_ANOTHER_STATE",
                        $"the key {keyId} is already registered for {existing.Country}; a key signs one State's log only",
                        new Dictionary<string, string> { ["key_id"] = keyId, ["country"] = existing.Country });
                }
                if (existing.RetireTime is { } retired)
                {
                    throw RpcErrors.WithReason(Code.FailedPrecondition, "LOG_KEY_RETIRED",
                        $"the key {keyId} of {country} was retired at {retired:u} and never signs again; register a new key",
                        new Dictionary<string, string> { ["key_id"] = keyId });
                }
                return existing;
            }
            var record = new LogKeyRecord
            {
                KeyId = keyId,
                Country = country,
                PublicKey = spki,
                RegisterTime = WholeSecond(clock.GetUtcNow()),
            };
            db.LogKeys.Add(record);
            CredentialAdministration.Audit(db, clock, actor, "RegisterLogKey", "", $"log key {keyId} of {country} registered");
            try
            {
                await db.SaveChangesAsync(cancellationToken);
                return record;
            }
            catch (DbUpdateException) when (attempt == 0)
            {
                db.ChangeTracker.Clear();
            }
        }
    }

    /// <summary>
    /// Retires a key from now on; a key already retired keeps its first retirement time, and nothing is written.
    /// A key id not registered is retired only with its State in <paramref name="country"/> (a key a rotation head
    /// handed over to, known from that head only): recorded with no public key, so that it never verifies a head
    /// and can never be registered, and published in <see cref="RevocationListFormat.RetiredLogKeysClaim"/>.
    /// </summary>
    public async Task<LogKeyRecord> RetireAsync(string actor, string keyId, string reason, string country, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(keyId))
        {
            throw RpcErrors.InvalidArgument("key_id", "the key id of the log key to retire is required");
        }
        var now = WholeSecond(clock.GetUtcNow());
        var why = reason.Length > 0 ? reason[..Math.Min(reason.Length, 500)] : "no reason given";
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            var known = await db.LogKeys.AsNoTracking().FirstOrDefaultAsync(k => k.KeyId == keyId, cancellationToken);
            if (known is not null && country.Length > 0 && known.Country != country)
            {
                throw RpcErrors.WithReason(Code.FailedPrecondition, "LOG_KEY_OF_ANOTHER_STATE",
                    $"the key {keyId} is registered for {known.Country}, not {country}",
                    new Dictionary<string, string> { ["key_id"] = keyId, ["country"] = known.Country });
            }
            if (known is null && country.Length > 0)
            {
                if (!OwnsALog(country))
                {
                    throw RpcErrors.InvalidArgument("country", Owners(country));
                }
                if (!LogKeys.IsKeyId(keyId))
                {
                    throw RpcErrors.InvalidArgument("key_id", $"'{keyId}' is not a log key id (base64url of a SHA-256 digest, 43 characters)");
                }
                // Never registered: recorded retired, with no public key (a concurrent registration fails on the key id).
                db.LogKeys.Add(new LogKeyRecord { KeyId = keyId, Country = country, PublicKey = [], RegisterTime = now, RetireTime = now });
                CredentialAdministration.Audit(db, clock, actor, "RetireLogKey", "", $"log key {keyId} of {country}, not registered, retired: {why}");
                await db.SaveChangesAsync(cancellationToken);
            }
            else if (await db.LogKeys.Where(k => k.KeyId == keyId && k.RetireTime == null)
                .ExecuteUpdateAsync(set => set.SetProperty(k => k.RetireTime, now), cancellationToken) == 1)
            {
                CredentialAdministration.Audit(db, clock, actor, "RetireLogKey", "", $"log key {keyId} of {known!.Country} retired: {why}");
                await db.SaveChangesAsync(cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
        }
        return await db.LogKeys.AsNoTracking().FirstOrDefaultAsync(k => k.KeyId == keyId, cancellationToken)
            ?? throw RpcErrors.WithReason(Code.NotFound, "LOG_KEY_NOT_FOUND",
                $"no log key has the key id '{keyId}'; to retire a key that was never registered (one a rotation handed over to), name its State (country)",
                new Dictionary<string, string> { ["key_id"] = keyId });
    }

    /// <summary>Published in whole seconds: what the admin API answers is what nodes read.</summary>
    private static DateTimeOffset WholeSecond(DateTimeOffset time) => DateTimeOffset.FromUnixTimeSeconds(time.ToUnixTimeSeconds());
}
