using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Mirps.Observation.V1;

namespace MirpsExchange.Node.Store;

/// <summary>
/// Reads an origin's log in sequence order for the change feed: raw SQL on EF Core's connection, because
/// EF's materialisation of <see cref="ObservationRow"/> capped the feed near 110,000 rows/s here (an
/// ordered ADO.NET read of the same rows runs at several times that). Portable SQL (LIMIT).
/// </summary>
public static class ChangeLogReader
{
    private const string Columns =
        "origin_sequence, indicator_code, country, period, sex, age, country_of_origin, revision, value, status, note, deleted, " +
        "recorded_time, readers, release_time, small_count_threshold, value_withheld";

    /// <summary>
    /// The stored changes of <paramref name="origin"/> after sequence <paramref name="after"/>, at most
    /// <paramref name="count"/>, oldest first. One row object is filled again for each change: a consumer
    /// must be done with a row (copy what it keeps) before it asks for the next.
    /// </summary>
    public static async IAsyncEnumerable<ObservationRow> ReadAsync(
        NodeDbContext db, string origin, long after, int count, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Microsoft.Data.Sqlite's async reads only wrap the synchronous ones (see ObservationWriter).
        var synchronous = db.Database.IsSqlite();
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var command = db.Database.GetDbConnection().CreateCommand();
            command.CommandText =
                $"SELECT {Columns} FROM {ObservationRowConfiguration.Table} WHERE origin = @origin AND origin_sequence > @after " +
                "ORDER BY origin_sequence LIMIT @count";
            AddParameter(command, "@origin", origin);
            AddParameter(command, "@after", after);
            AddParameter(command, "@count", count);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var row = new ObservationRow
            {
                Origin = origin, IndicatorCode = "", Country = "", Period = "", Sex = "", Age = "", CountryOfOrigin = "", Note = "",
            };
            while (synchronous ? reader.Read() : await reader.ReadAsync(cancellationToken))
            {
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
                yield return row;
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private static void AddParameter(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }
}
