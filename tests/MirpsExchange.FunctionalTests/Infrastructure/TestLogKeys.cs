using System.Security.Cryptography;
using Google.Protobuf;
using Mirps.Identity.V1;
using Mirps.Log;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// One log-signing key per State and identity server for the test run, registered there as an admin does
/// (`mirps credentials register-log-key`) before the State's node starts, so replicas verify its log from
/// the first head. A test node gets the key as its Node:LogSigningKeyFile.
/// </summary>
public static class TestLogKeys
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static readonly Dictionary<(TestIdentity, string), string> Keys = [];

    /// <summary>
    /// Links <paramref name="origin"/>'s changes in <paramref name="node"/>'s store again from their stored content
    /// and signs one head over them with the origin's key: what a State that signs whatever it likes (or whoever
    /// stole its key) serves after altering its store behind its node's checks. No placeholders in that log.
    /// </summary>
    public static async Task ResignAsync(TestNode node, string origin)
    {
        using var key = await KeyAsync(node.Identity, origin);
        using var connection = TestStores.Open(node.Store, node.DatabasePath);
        using var transaction = connection.BeginTransaction();
        var rows = new List<(long Sequence, byte[] Hash)>();
        using (var read = connection.CreateCommand())
        {
            read.Transaction = transaction;
            read.CommandText = "SELECT origin_sequence, indicator_code, country, period, sex, age, country_of_origin, revision, value, status, note, deleted, recorded_time, readers, release_time, small_count_threshold, salt, " +
                "application_type, decision_level, procedure_type, count_basis, country_of_destination, lower_bound, confidentiality, synthetic " +
                $"FROM observations WHERE origin = '{origin}' ORDER BY origin_sequence";
            using var reader = read.ExecuteReader();
            // Linked as the origin's own writer links them (ChainLinker), from the content as it now stands.
            var chain = new MirpsExchange.Node.ChangeLog.ChainLinker(origin, []);
            while (reader.Read())
            {
                var policy = new MirpsExchange.Node.Sharing.RowPolicy(reader.GetString(13), reader.IsDBNull(14) ? null : reader.GetInt64(14), reader.GetInt32(15));
                var added = new AddedDimensions(reader.GetString(17), reader.GetString(18), reader.GetString(19), reader.GetString(20), reader.GetString(21));
                var attributes = new ValueAttributes(reader.GetBoolean(22), (Mirps.Observation.V1.ConfidentialityStatus)reader.GetInt32(23), reader.GetBoolean(24));
                var row = new MirpsExchange.Node.Store.WriteRow(reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.GetString(6), added,
                    default, default, reader.IsDBNull(8) ? null : reader.GetDouble(8), (Mirps.Observation.V1.ObservationStatus)reader.GetInt32(9), reader.GetString(10), attributes, policy);
                var link = new byte[ChangeHash.Size];
                chain.Link(row, reader.GetInt64(0), reader.GetInt64(12), reader.GetInt64(7), reader.GetBoolean(11), (byte[])reader["salt"], link);
                chain.Advance(link);
                rows.Add((reader.GetInt64(0), link));
            }
        }
        foreach (var (sequence, hash) in rows)
        {
            using var update = connection.CreateCommand();
            update.Transaction = transaction;
            update.CommandText = "UPDATE observations SET change_hash = @hash WHERE origin = @origin AND origin_sequence = @seq";
            TestStores.Add(update, "@hash", hash);
            TestStores.Add(update, "@origin", origin);
            TestStores.Add(update, "@seq", sequence);
            update.ExecuteNonQuery();
        }
        var head = new Mirps.Observation.V1.LogHead
        {
            Origin = origin, Sequence = rows[^1].Sequence, Hash = ByteString.CopyFrom(rows[^1].Hash), Kind = Mirps.Observation.V1.LogHeadKind.Commit,
            SignedTime = MirpsExchange.Node.Store.StoreTime.ToTimestamp(MirpsExchange.Node.Store.StoreTime.ToMicros(DateTimeOffset.UtcNow)), // as stored: microseconds
        };
        LogHeadSignature.Sign(head, key, Mirps.Auth.LogKeys.KeyId(key.ExportSubjectPublicKeyInfo()));
        using (var heads = connection.CreateCommand())
        {
            heads.Transaction = transaction;
            heads.CommandText = $"DELETE FROM log_heads WHERE origin = '{origin}'";
            heads.ExecuteNonQuery();
        }
        WriteHead(connection, transaction, head);
        transaction.Commit();
    }

    /// <summary>Stores <paramref name="head"/> in a store's log behind its node's back (either provider), replacing the head of that sequence and kind.</summary>
    public static void WriteHead(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction? transaction, Mirps.Observation.V1.LogHead head)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "DELETE FROM log_heads WHERE origin = @origin AND sequence = @seq AND kind = @kind; " +
            "INSERT INTO log_heads (origin, sequence, kind, hash, key_id, signature, signed_time, next_public_key, received_time) " +
            "VALUES (@origin, @seq, @kind, @hash, @kid, @signature, @signed, @next, 0)";
        TestStores.Add(command, "@origin", head.Origin);
        TestStores.Add(command, "@seq", head.Sequence);
        TestStores.Add(command, "@kind", (int)head.Kind);
        TestStores.Add(command, "@hash", head.Hash.ToByteArray());
        TestStores.Add(command, "@kid", head.KeyId);
        TestStores.Add(command, "@signature", head.Signature.ToByteArray());
        TestStores.Add(command, "@signed", ChangeHash.Micros(head.SignedTime));
        TestStores.Add(command, "@next", head.NextPublicKey.IsEmpty ? DBNull.Value : head.NextPublicKey.ToByteArray());
        command.ExecuteNonQuery();
    }

    /// <summary><paramref name="country"/>'s key (registered at <paramref name="identity"/>), to sign heads with; the caller disposes it.</summary>
    public static async Task<ECDsa> KeyAsync(TestIdentity identity, string country)
    {
        var key = ECDsa.Create();
        key.ImportFromPem(await PemAsync(identity, country));
        return key;
    }

    /// <summary>Writes <paramref name="country"/>'s key (registered at <paramref name="identity"/>) into <paramref name="folder"/>; returns the file.</summary>
    public static async Task<string> FileAsync(TestIdentity identity, string country, string folder)
    {
        var pem = await PemAsync(identity, country);
        // Beside the store, where a node keeps its own by default (tests list the rest of the folder).
        var data = Path.Combine(folder, "data");
        if (!Directory.Exists(data))
        {
            OwnerOnlyFile.CreateDirectory(data);
        }
        var file = Path.Combine(data, $"log-signing-key-{country.ToLowerInvariant()}.pem");
        if (!File.Exists(file))
        {
            OwnerOnlyFile.WriteAllText(file, pem);
        }
        return file;
    }

    private static async Task<string> PemAsync(TestIdentity identity, string country)
    {
        string pem;
        await Gate.WaitAsync();
        try
        {
            if (!Keys.TryGetValue((identity, country), out pem!))
            {
                using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                await identity.Credentials.RegisterLogKeyAsync(new RegisterLogKeyRequest { Country = country, PublicKey = ByteString.CopyFrom(key.ExportSubjectPublicKeyInfo()) });
                pem = key.ExportPkcs8PrivateKeyPem();
                Keys[(identity, country)] = pem;
            }
        }
        finally
        {
            Gate.Release();
        }
        return pem;
    }
}
