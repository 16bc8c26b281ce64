using System.Buffers;
using System.Threading.Channels;
using Microsoft.EntityFrameworkCore;
using MirpsExchange.Node.Store;
using Npgsql;
using NpgsqlTypes;

namespace MirpsExchange.Benchmarks;

/// <summary>
/// The raw baseline on PostgreSQL: the fastest plain writer of the node's own table there, binary COPY. The database is
/// made by the node's PostgreSQL migrations (same columns, primary key and unique key index), and each batch is one
/// COPY in one transaction, as the replica commits a message. What it leaves out is everything the node does beyond
/// writing: verifying the chain and heads, revision detection, the log's rules, notifying followers.
/// </summary>
internal sealed class RawPostgresBaseline : IAsyncDisposable
{
    private static readonly string CopySql = $"COPY {ObservationRowConfiguration.Table} (origin, origin_sequence, {PositionalCommand.KeyColumns}, " +
        "period_start, period_end, value, status, note, lower_bound, confidentiality, synthetic, readers, release_time, small_count_threshold, " +
        "value_withheld, revision, deleted, recorded_time, salt, change_hash, received_time) FROM STDIN (FORMAT BINARY)";

    private readonly NpgsqlConnection _connection;
    private readonly string _origin;

    private RawPostgresBaseline(NpgsqlConnection connection, string origin) => (_connection, _origin) = (connection, origin);

    /// <summary>The database of <paramref name="connectionString"/> (empty), migrated as a node migrates its store, and its writer for <paramref name="origin"/>.</summary>
    public static async Task<RawPostgresBaseline> CreateAsync(string connectionString, string origin)
    {
        await using (var db = new PostgresNodeDbContext(StoreExtensions.PostgresOptions(connectionString)))
        {
            await db.Database.MigrateAsync();
        }
        var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        return new RawPostgresBaseline(connection, origin);
    }

    /// <summary>Writes every batch <paramref name="batches"/> delivers, a COPY in a transaction each; returns the rows written.</summary>
    public async Task<long> WriteAllAsync(ChannelReader<BaselineBatch> batches)
    {
        long count = 0;
        await foreach (var batch in batches.ReadAllAsync())
        {
            await using (var transaction = await _connection.BeginTransactionAsync())
            {
                await using (var copy = await _connection.BeginBinaryImportAsync(CopySql))
                {
                    for (var i = 0; i < batch.Count; i++)
                    {
                        Write(copy, batch.Rows[i]);
                    }
                    await copy.CompleteAsync();
                }
                await transaction.CommitAsync();
            }
            count += batch.Count;
            ArrayPool<BaselineRow>.Shared.Return(batch.Rows);
        }
        return count;
    }

    private void Write(NpgsqlBinaryImporter copy, in BaselineRow row)
    {
        copy.StartRow();
        copy.Write(_origin, NpgsqlDbType.Varchar);
        copy.Write(row.Sequence, NpgsqlDbType.Bigint);
        copy.Write(row.IndicatorCode, NpgsqlDbType.Varchar);
        copy.Write(row.Country, NpgsqlDbType.Varchar);
        copy.Write(row.Period, NpgsqlDbType.Varchar);
        copy.Write(row.Sex, NpgsqlDbType.Varchar);
        copy.Write(row.Age, NpgsqlDbType.Varchar);
        copy.Write(row.CountryOfOrigin, NpgsqlDbType.Varchar);
        copy.Write(row.Added.ApplicationType, NpgsqlDbType.Varchar);
        copy.Write(row.Added.DecisionLevel, NpgsqlDbType.Varchar);
        copy.Write(row.Added.ProcedureType, NpgsqlDbType.Varchar);
        copy.Write(row.Added.CountBasis, NpgsqlDbType.Varchar);
        copy.Write(row.Added.CountryOfDestination, NpgsqlDbType.Varchar);
        copy.Write(row.PeriodStart, NpgsqlDbType.Date);
        copy.Write(row.PeriodEnd, NpgsqlDbType.Date);
        copy.Write(row.Value, NpgsqlDbType.Double);
        copy.Write((int)row.Status, NpgsqlDbType.Integer);
        copy.Write(row.Note, NpgsqlDbType.Varchar);
        copy.Write(row.Attributes.LowerBound, NpgsqlDbType.Boolean);
        copy.Write((int)row.Attributes.Confidentiality, NpgsqlDbType.Integer);
        copy.Write(row.Attributes.Synthetic, NpgsqlDbType.Boolean);
        copy.Write(row.Policy.Readers, NpgsqlDbType.Varchar);
        if (row.Policy.ReleaseTime is { } release)
        {
            copy.Write(release, NpgsqlDbType.Bigint);
        }
        else
        {
            copy.WriteNull();
        }
        copy.Write(row.Policy.SmallCountThreshold, NpgsqlDbType.Integer);
        copy.Write(false, NpgsqlDbType.Boolean); // value_withheld
        copy.Write(1L, NpgsqlDbType.Bigint); // revision
        copy.Write(false, NpgsqlDbType.Boolean); // deleted
        copy.Write(row.RecordedTime, NpgsqlDbType.Bigint);
        copy.Write(row.Salt.ToArray(), NpgsqlDbType.Bytea);
        copy.Write(row.ChangeHash.ToArray(), NpgsqlDbType.Bytea);
        copy.Write(row.ReceivedTime, NpgsqlDbType.Bigint);
    }

    /// <summary>The highest sequence in the table: a check that every row arrived.</summary>
    public async Task<long> LastSequenceAsync()
    {
        await using var query = new NpgsqlCommand($"SELECT COALESCE(MAX(origin_sequence), 0) FROM {ObservationRowConfiguration.Table}", _connection);
        return Convert.ToInt64(await query.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
