using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Mirps.Observation.V1;

namespace MirpsExchange.Node.Store;

/// <summary>
/// Reads an origin's log in sequence order for the change feed, through SQLite's own API
/// (<see cref="SqliteStatement"/>): EF's materialisation of <see cref="ObservationRow"/> capped the feed
/// near 110,000 rows/s here, and ADO.NET's reader converted every value again; codes, periods and
/// policies repeat on every row and are decoded once (<see cref="Utf8StringPool"/>).
/// </summary>
public static class ChangeLogReader
{
    private const string Columns =
        "origin_sequence, indicator_code, country, period, sex, age, country_of_origin, revision, value, status, note, deleted, " +
        "recorded_time, readers, release_time, small_count_threshold, value_withheld, salt, value_digest, received_time, " + // not change_hash: readers compute it
        "application_type, decision_level, procedure_type, count_basis, country_of_destination, lower_bound, confidentiality, synthetic";

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
    }
}
