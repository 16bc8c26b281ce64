using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Mirps.Observation.V1;

namespace MirpsExchange.Node.Store;

/// <summary>
/// Reads an origin's log in sequence order for the change feed, through SQLite's own API
/// (<see cref="SqliteStatement"/>): EF's materialisation of <see cref="ObservationRow"/> capped the feed
/// near 110,000 rows/s here, and ADO.NET's reader converted every value again; codes, periods and
/// policies repeat on every row and are decoded once (<see cref="Utf8StringPool"/>). Another provider (PostgreSQL) reads
/// the same columns through ADO.NET, the whole page before the first row is handed on: a PostgreSQL connection runs one
/// command at a time, and the feed queries the same connection (signed heads) between rows.
/// </summary>
public static class ChangeLogReader
{
    private const string Columns =
        "origin_sequence, indicator_code, country, period, sex, age, country_of_origin, revision, value, status, note, deleted, " +
        "recorded_time, readers, release_time, small_count_threshold, value_withheld, salt, value_digest, received_time, " + // not change_hash: readers compute it
        "application_type, decision_level, procedure_type, count_basis, country_of_destination, lower_bound, confidentiality, synthetic, draft_sharing";

    /// <summary>
    /// The stored changes of <paramref name="origin"/> after sequence <paramref name="after"/>, at most
    /// <paramref name="count"/>, oldest first. One row object is filled again for each change: a consumer
    /// must be done with a row (copy what it keeps) before it asks for the next.
    /// </summary>
    public static async IAsyncEnumerable<ObservationRow> ReadAsync(
        NodeDbContext db, string origin, long after, int count, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            if (db.Database.GetDbConnection() is not Microsoft.Data.Sqlite.SqliteConnection)
            {
                foreach (var read in await ReadAdoAsync(db, origin, after, count, cancellationToken))
                {
                    yield return read;
                }
                yield break;
            }
            using var query = new SqliteStatement(db.Database.GetDbConnection(),
                $"SELECT {Columns} FROM {ObservationRowConfiguration.Table} WHERE origin = ?1 AND origin_sequence > ?2 ORDER BY origin_sequence LIMIT ?3");
            query.Bind(1, origin);
            query.Bind(2, after);
            query.Bind(3, (long)count);
            var strings = new Utf8StringPool();
            var row = new ObservationRow
            {
                Origin = origin, IndicatorCode = "", Country = "", Period = "", Sex = "", Age = "", CountryOfOrigin = "", Note = "",
            };
            while (query.Read())
            {
                cancellationToken.ThrowIfCancellationRequested();
                Fill(row, query, strings);
                yield return row;
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    /// <summary>The same read through ADO.NET, on the context's open connection and in its transaction if it has one.</summary>
    private static async Task<List<ObservationRow>> ReadAdoAsync(NodeDbContext db, string origin, long after, int count, CancellationToken cancellationToken)
    {
        var rows = new List<ObservationRow>(Math.Min(count, 4096));
        await using var command = PositionalCommand.Create(db.Database.GetDbConnection(), db.Database.CurrentTransaction?.GetDbTransaction(),
            $"SELECT {Columns} FROM {ObservationRowConfiguration.Table} WHERE origin = @origin AND origin_sequence > @after ORDER BY origin_sequence LIMIT @count",
            "@origin", "@after", "@count");
        command.Parameters[0].Value = origin;
        command.Parameters[1].Value = after;
        command.Parameters[2].Value = (long)count;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var row = new ObservationRow
            {
                Origin = origin, IndicatorCode = "", Country = "", Period = "", Sex = "", Age = "", CountryOfOrigin = "", Note = "",
            };
            row.OriginSequence = reader.GetInt64(0);
            row.IndicatorCode = reader.GetString(1);
            row.Country = reader.GetString(2);
            row.Period = reader.GetString(3);
            row.Sex = reader.GetString(4);
            row.Age = reader.GetString(5);
            row.CountryOfOrigin = reader.GetString(6);
            row.Revision = reader.GetInt64(7);
            row.Value = reader.IsDBNull(8) ? null : reader.GetDouble(8);
            row.Status = (ObservationStatus)reader.GetInt32(9);
            row.Note = reader.GetString(10);
            row.Deleted = reader.GetBoolean(11);
            row.RecordedTime = reader.GetInt64(12);
            row.Readers = reader.GetString(13);
            row.ReleaseTime = reader.IsDBNull(14) ? null : reader.GetInt64(14);
            row.SmallCountThreshold = reader.GetInt32(15);
            row.ValueWithheld = reader.GetBoolean(16);
            row.Salt = reader.IsDBNull(17) ? null : (byte[])reader.GetValue(17);
            row.ValueDigest = reader.IsDBNull(18) ? null : (byte[])reader.GetValue(18);
            row.ReceivedTime = reader.GetInt64(19);
            row.ApplicationType = reader.GetString(20);
            row.DecisionLevel = reader.GetString(21);
            row.ProcedureType = reader.GetString(22);
            row.CountBasis = reader.GetString(23);
            row.CountryOfDestination = reader.GetString(24);
            row.LowerBound = reader.GetBoolean(25);
            row.Confidentiality = (ConfidentialityStatus)reader.GetInt32(26);
            row.Synthetic = reader.GetBoolean(27);
            row.DraftSharing = (DraftSharing)reader.GetInt32(28);
            rows.Add(row);
        }
        return rows;
    }

    private static void Fill(ObservationRow row, SqliteStatement query, Utf8StringPool strings)
    {
        row.OriginSequence = query.GetInt64(0);
        row.IndicatorCode = query.GetString(1, strings);
        row.Country = query.GetString(2, strings);
        row.Period = query.GetString(3, strings);
        row.Sex = query.GetString(4, strings);
        row.Age = query.GetString(5, strings);
        row.CountryOfOrigin = query.GetString(6, strings);
        row.Revision = query.GetInt64(7);
        row.Value = query.IsNull(8) ? null : query.GetDouble(8);
        row.Status = (ObservationStatus)query.GetInt64(9);
        row.Note = query.GetString(10, strings);
        row.Deleted = query.GetInt64(11) != 0;
        row.RecordedTime = query.GetInt64(12);
        row.Readers = query.GetString(13, strings);
        row.ReleaseTime = query.IsNull(14) ? null : query.GetInt64(14);
        row.SmallCountThreshold = (int)query.GetInt64(15);
        row.ValueWithheld = query.GetInt64(16) != 0;
        row.Salt = query.GetBlob(17);
        row.ValueDigest = query.GetBlob(18);
        row.ReceivedTime = query.GetInt64(19);
        row.ApplicationType = query.GetString(20, strings);
        row.DecisionLevel = query.GetString(21, strings);
        row.ProcedureType = query.GetString(22, strings);
        row.CountBasis = query.GetString(23, strings);
        row.CountryOfDestination = query.GetString(24, strings);
        row.LowerBound = query.GetInt64(25) != 0;
        row.Confidentiality = (ConfidentialityStatus)query.GetInt64(26);
        row.Synthetic = query.GetInt64(27) != 0;
        row.DraftSharing = (DraftSharing)query.GetInt64(28);
    }
}
