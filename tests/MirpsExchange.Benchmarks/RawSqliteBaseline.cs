using System.Buffers;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Benchmarks;

/// <summary>
/// One row of the observations table as the baseline writes it: a key's first revision, not deleted, with
/// what the signed log stores per change (a 16-byte salt, a 32-byte link, the received time) as plain bytes:
/// the baseline stores them, it neither draws, hashes nor verifies them.
/// </summary>
public readonly record struct BaselineRow(
    long Sequence, string IndicatorCode, string Country, string Period, string Sex, string Age, string CountryOfOrigin,
    DateOnly PeriodStart, DateOnly PeriodEnd, double Value, ObservationStatus Status, string Note,
    RowPolicy Policy, long RecordedTime, ReadOnlyMemory<byte> Salt = default, ReadOnlyMemory<byte> ChangeHash = default, long ReceivedTime = 0,
    Mirps.Log.AddedDimensions Added = default, Mirps.Log.ValueAttributes Attributes = default);

/// <summary>A batch of rows in an array rented from <see cref="ArrayPool{T}.Shared"/>, returned once written.</summary>
public readonly record struct BaselineBatch(BaselineRow[] Rows, int Count);

/// <summary>
/// The raw baseline: the fastest plain writer of the node's own table. The store is made as the node makes
/// its own (its EF Core migrations, on a connection with its pragmas: 8 KiB pages, WAL, mmap, cache), so
/// it has the same columns, the (origin, origin_sequence) primary key and the unique key index, and keeps
/// them when a migration adds columns (the insert is built from the migrated table). Rows go through
/// SQLite's own API bound by position (the node's <see cref="SqliteStatement"/>: UTF-8 on the stack, texts
/// bound only when they changed), <see cref="RowsPerStatement"/> rows to an INSERT, one transaction per
/// batch, while the next batch is prepared on another thread (parsed, sorted, or received and decoded).
/// What it leaves out is everything the node does beyond writing: validation, revision detection, the
/// log's rules, idempotency, notifying followers.
/// </summary>
public sealed class RawSqliteBaseline : IDisposable
{
    /// <summary>
    /// Rows per INSERT (SQLite opens the table's and indexes' cursors once per statement). The submit baseline
    /// alone, in process, 1 M rows after 200,000 of warm-up, medians of 3 (rows/s): 1 row 484,508; 16 542,502;
    /// 32 584,161; 64 616,735; 128 629,850; 256 ~615,000; 512 and 1,024 no better.
    /// </summary>
    public const int RowsPerStatement = 128;

    /// <summary>The columns this writer fills (any other column of the table takes its default, or a filler literal: see <see cref="Literal"/>).</summary>
    private enum Field
    {
        Sequence, IndicatorCode, Country, Period, Sex, Age, CountryOfOrigin, PeriodStart, PeriodEnd, Value, Status, Note,
        Readers, ReleaseTime, SmallCountThreshold, RecordedTime, Salt, ChangeHash, ReceivedTime,
        ApplicationType, DecisionLevel, ProcedureType, CountBasis, CountryOfDestination, LowerBound, Confidentiality, Synthetic,
    }

    private static readonly Dictionary<string, Field> Bound = new(StringComparer.Ordinal)
    {
        ["origin_sequence"] = Field.Sequence, ["indicator_code"] = Field.IndicatorCode, ["country"] = Field.Country,
        ["period"] = Field.Period, ["sex"] = Field.Sex, ["age"] = Field.Age, ["country_of_origin"] = Field.CountryOfOrigin,
        ["period_start"] = Field.PeriodStart, ["period_end"] = Field.PeriodEnd, ["value"] = Field.Value, ["status"] = Field.Status,
        ["note"] = Field.Note, ["readers"] = Field.Readers, ["release_time"] = Field.ReleaseTime,
        ["small_count_threshold"] = Field.SmallCountThreshold, ["recorded_time"] = Field.RecordedTime,
        ["salt"] = Field.Salt, ["change_hash"] = Field.ChangeHash, ["received_time"] = Field.ReceivedTime,
        ["application_type"] = Field.ApplicationType, ["decision_level"] = Field.DecisionLevel, ["procedure_type"] = Field.ProcedureType,
        ["count_basis"] = Field.CountBasis, ["country_of_destination"] = Field.CountryOfDestination,
        ["lower_bound"] = Field.LowerBound, ["confidentiality"] = Field.Confidentiality, ["synthetic"] = Field.Synthetic,
    };

    /// <summary>The same in every row of a first revision: written as literals, as the node's own insert does.</summary>
    private static readonly Dictionary<string, string> Constant = new(StringComparer.Ordinal)
    {
        ["revision"] = "1", ["deleted"] = "FALSE", ["value_withheld"] = "FALSE", ["superseded_time"] = "NULL",
    };

    /// <summary>The page size of the last store made (the node's pragmas give a new store 8 KiB): printed with the figures.</summary>
    public static int StorePageSize { get; private set; }

    private readonly SqliteConnection _connection;
    private readonly Field[] _fields;
    private readonly SqliteStatement _many, _one;

    private RawSqliteBaseline(SqliteConnection connection, string origin, Field[] fields, Func<int, string> sql)
    {
        (_connection, _fields) = (connection, fields);
        _many = new SqliteStatement(connection, sql(RowsPerStatement));
        _one = new SqliteStatement(connection, sql(1));
        _many.Bind(1, origin);
        _one.Bind(1, origin);
    }

    /// <summary>A new store at <paramref name="path"/>, made by the node's migrations, and its writer for <paramref name="origin"/>'s rows.</summary>
    public static async Task<RawSqliteBaseline> CreateAsync(string path, string origin)
    {
        var options = new DbContextOptionsBuilder<NodeDbContext>().UseSqlite($"Data Source={path};Pooling=False").AddInterceptors(new SqlitePragmas()).Options;
        await using (var db = new NodeDbContext(options))
        {
            await db.Database.MigrateAsync();
        }
        var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        SqlitePragmas.Apply(connection);
        using (var check = connection.CreateCommand())
        {
            check.CommandText = "PRAGMA page_size";
            StorePageSize = Convert.ToInt32(check.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }

        // The insert, from the table the migrations made: ?1 the origin, then one parameter per bound column and row.
        var columns = new List<string>();
        var fields = new List<Field>();
        var literals = new List<string?>(); // per column: null when bound, else the literal
        using (var info = connection.CreateCommand())
        {
            info.CommandText = $"SELECT name, type, \"notnull\", dflt_value FROM pragma_table_info('{ObservationRowConfiguration.Table}') ORDER BY cid";
            using var reader = info.ExecuteReader();
            while (reader.Read())
            {
                var (name, type, notNull, hasDefault) = (reader.GetString(0), reader.GetString(1), reader.GetBoolean(2), !reader.IsDBNull(3));
                if (name == "origin")
                {
                    columns.Add(name);
                    literals.Add("?1");
                }
                else if (Bound.TryGetValue(name, out var field))
                {
                    columns.Add(name);
                    fields.Add(field);
                    literals.Add(null);
                }
                else if (Constant.TryGetValue(name, out var constant))
                {
                    columns.Add(name);
                    literals.Add(constant);
                }
                else if (notNull && !hasDefault)
                {
                    columns.Add(name);
                    literals.Add(Literal(type));
                    Console.WriteLine($"  note: the baseline writes a filler {Literal(type)} into the new column {name}; teach RawSqliteBaseline its real value");
                }
                // a column that may be NULL or has a default takes it, as it would from any plain writer that does not know it
            }
        }
        var columnList = string.Join(", ", columns);
        string Sql(int rows)
        {
            var values = Enumerable.Range(0, rows).Select(row =>
            {
                var next = 2 + row * fields.Count;
                return "(" + string.Join(", ", literals.Select(l => l ?? $"?{next++}")) + ")";
            });
            return $"INSERT INTO {ObservationRowConfiguration.Table} ({columnList}) VALUES {string.Join(", ", values)}";
        }
        return new RawSqliteBaseline(connection, origin, [.. fields], Sql);
    }

    /// <summary>A stand-in of the column's size for a NOT NULL column this writer has no value for (a 32-byte hash for a BLOB).</summary>
    private static string Literal(string type) => type.ToUpperInvariant() switch
    {
        "BLOB" => $"X'{new string('0', 64)}'",
        "TEXT" => "''",
        _ => "0",
    };

    /// <summary>Writes every batch <paramref name="batches"/> delivers, one transaction each, as they come; returns the rows written.</summary>
    public async Task<long> WriteAllAsync(ChannelReader<BaselineBatch> batches)
    {
        long count = 0;
        await foreach (var batch in batches.ReadAllAsync())
        {
            Write(batch.Rows.AsSpan(0, batch.Count));
            count += batch.Count;
            ArrayPool<BaselineRow>.Shared.Return(batch.Rows);
        }
        return count;
    }

    /// <summary>Writes <paramref name="rows"/> in one transaction, in the order given.</summary>
    public void Write(ReadOnlySpan<BaselineRow> rows)
    {
        using var transaction = _connection.BeginTransaction();
        var i = 0;
        for (; i + RowsPerStatement <= rows.Length; i += RowsPerStatement)
        {
            for (var r = 0; r < RowsPerStatement; r++)
            {
                Bind(_many, r * _fields.Length, rows[i + r]);
            }
            _many.Execute();
        }
        for (; i < rows.Length; i++)
        {
            Bind(_one, 0, rows[i]);
            _one.Execute();
        }
        transaction.Commit();
    }

    private void Bind(SqliteStatement insert, int offset, in BaselineRow row)
    {
        var periodChanged = false;
        for (var c = 0; c < _fields.Length; c++)
        {
            var at = offset + c + 2;
            switch (_fields[c])
            {
                case Field.Sequence: insert.Bind(at, row.Sequence); break;
                case Field.IndicatorCode: insert.BindIfChanged(at, row.IndicatorCode); break;
                case Field.Country: insert.BindIfChanged(at, row.Country); break;
                case Field.Period: periodChanged = insert.BindIfChanged(at, row.Period); break;
                case Field.Sex: insert.BindIfChanged(at, row.Sex); break;
                case Field.Age: insert.BindIfChanged(at, row.Age); break;
                case Field.CountryOfOrigin: insert.BindIfChanged(at, row.CountryOfOrigin); break;
                // a period's first and last days change only with it (the table lists period before them)
                case Field.PeriodStart: if (periodChanged) insert.Bind(at, row.PeriodStart); break;
                case Field.PeriodEnd: if (periodChanged) insert.Bind(at, row.PeriodEnd); break;
                case Field.Value: insert.Bind(at, (double?)row.Value); break;
                case Field.Status: insert.Bind(at, (long)row.Status); break;
                case Field.Note: insert.BindIfChanged(at, row.Note); break;
                case Field.Readers: insert.BindIfChanged(at, row.Policy.Readers); break;
                case Field.ReleaseTime: insert.Bind(at, row.Policy.ReleaseTime); break;
                case Field.SmallCountThreshold: insert.Bind(at, row.Policy.SmallCountThreshold); break;
                case Field.RecordedTime: insert.Bind(at, row.RecordedTime); break;
                case Field.Salt: insert.Bind(at, row.Salt.Span); break;
                case Field.ChangeHash: insert.Bind(at, row.ChangeHash.Span); break;
                case Field.ReceivedTime: insert.Bind(at, row.ReceivedTime); break;
                case Field.ApplicationType: insert.BindIfChanged(at, row.Added.ApplicationType); break;
                case Field.DecisionLevel: insert.BindIfChanged(at, row.Added.DecisionLevel); break;
                case Field.ProcedureType: insert.BindIfChanged(at, row.Added.ProcedureType); break;
                case Field.CountBasis: insert.BindIfChanged(at, row.Added.CountBasis); break;
                case Field.CountryOfDestination: insert.BindIfChanged(at, row.Added.CountryOfDestination); break;
                case Field.LowerBound: insert.Bind(at, row.Attributes.LowerBound ? 1L : 0L); break;
                case Field.Confidentiality: insert.Bind(at, (long)row.Attributes.Confidentiality); break;
                case Field.Synthetic: insert.Bind(at, row.Attributes.Synthetic ? 1L : 0L); break;
            }
        }
    }

    /// <summary>
    /// The submit baseline: <paramref name="warmup"/> (not timed), then <paramref name="rows"/> into a new
    /// store, in batches of <paramref name="batchSize"/>, each sorted by the unique key (periods parsed,
    /// sequences and commit time assigned) on another thread while the previous batch is written; returns
    /// the time the latter took and this process's processor time meanwhile (both threads: the writer and the preparer).
    /// Its commits are made as durable as the node's own submits under <paramref name="synchronous"/> (Node:SubmitSynchronous:
    /// FULL syncs the WAL at every commit), through the node's own <see cref="SqlitePragmas.DurableCommitAsync"/>.
    /// </summary>
    public static async Task<(TimeSpan Elapsed, TimeSpan Cpu)> InsertAsync(string path, IReadOnlyList<Observation> warmup, IReadOnlyList<Observation> rows, int batchSize, string synchronous)
    {
        using var baseline = await CreateAsync(path, rows[0].Country);
        await using var durable = await SqlitePragmas.DurableCommitAsync(baseline._connection, synchronous, CancellationToken.None);
        long sequence = 0;
        await baseline.WriteAllAsync(Prepare(warmup));
        var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var written = await baseline.WriteAllAsync(Prepare(rows));
        var elapsed = watch.Elapsed;
        cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu;
        if (written != rows.Count || baseline.LastSequence() != warmup.Count + rows.Count)
        {
            throw new InvalidOperationException($"the baseline wrote {written:N0} rows of {rows.Count:N0}");
        }
        return (elapsed, cpu);

        ChannelReader<BaselineBatch> Prepare(IReadOnlyList<Observation> source)
        {
            var channel = Channel.CreateBounded<BaselineBatch>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
            _ = Task.Run(async () =>
            {
                try
                {
                    for (var start = 0; start < source.Count; start += batchSize)
                    {
                        var count = Math.Min(batchSize, source.Count - start);
                        var batch = ArrayPool<BaselineRow>.Shared.Rent(count);
                        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000;
                        for (var i = 0; i < count; i++)
                        {
                            batch[i] = FromObservation(source[start + i], 0, now, RowPolicy.SecretariatOnly, default, now);
                        }
                        Array.Sort(batch, 0, count, KeyOrder.Instance);
                        for (var i = 0; i < count; i++)
                        {
                            ++sequence;
                            batch[i] = batch[i] with
                            {
                                Sequence = sequence,
                                Salt = Filler(sequence, Mirps.Log.ChangeHash.SaltSize),
                                ChangeHash = Filler(sequence, Mirps.Log.ChangeHash.Size, 16),
                            };
                        }
                        await channel.Writer.WriteAsync(new BaselineBatch(batch, count));
                    }
                    channel.Writer.Complete();
                }
                catch (Exception e)
                {
                    channel.Writer.Complete(e);
                }
            });
            return channel.Reader;
        }
    }

    /// <summary>The highest sequence in the store (through the primary key): a check that every row arrived.</summary>
    public long LastSequence()
    {
        using var query = _connection.CreateCommand();
        query.CommandText = $"SELECT COALESCE(MAX(origin_sequence), 0) FROM {ObservationRowConfiguration.Table}";
        return Convert.ToInt64(query.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Random bytes the baselines store as a row's salt and link (<see cref="Filler"/>): real-sized, distinct
    /// from row to row, and free to make, since drawing salts and hashing are the node's extra work.
    /// </summary>
    private static readonly byte[] FillerBytes = System.Security.Cryptography.RandomNumberGenerator.GetBytes(1 << 20);

    /// <summary><paramref name="length"/> bytes of <see cref="FillerBytes"/> for row <paramref name="sequence"/> (a salt, or a link at another offset).</summary>
    public static ReadOnlyMemory<byte> Filler(long sequence, int length, int offset = 0) =>
        FillerBytes.AsMemory((int)((sequence * 48 + offset) % (FillerBytes.Length - 64)), length);

    public static BaselineRow FromObservation(Observation o, long sequence, long recordedTime, RowPolicy policy, ReadOnlyMemory<byte> salt, long receivedTime)
    {
        var period = Period.Parse(o.Period);
        return new BaselineRow(sequence, o.IndicatorCode, o.Country, o.Period, o.Sex, o.Age, o.CountryOfOrigin,
            period.Start, period.End, o.Value, o.Status, o.Note, policy, recordedTime, salt, Filler(sequence, Mirps.Log.ChangeHash.Size, 16), receivedTime,
            Mirps.Log.AddedDimensions.Of(o), Mirps.Log.ValueAttributes.Of(o));
    }

    /// <summary>The unique key index's order: indicator, country, period, sex, age, country of origin, catalogue 2.0's dimensions (ordinal).</summary>
    public sealed class KeyOrder : IComparer<BaselineRow>
    {
        public static readonly KeyOrder Instance = new();

        public int Compare(BaselineRow x, BaselineRow y)
        {
            var c = string.CompareOrdinal(x.IndicatorCode, y.IndicatorCode);
            if (c == 0) c = string.CompareOrdinal(x.Country, y.Country);
            if (c == 0) c = string.CompareOrdinal(x.Period, y.Period);
            if (c == 0) c = string.CompareOrdinal(x.Sex, y.Sex);
            if (c == 0) c = string.CompareOrdinal(x.Age, y.Age);
            if (c == 0) c = string.CompareOrdinal(x.CountryOfOrigin, y.CountryOfOrigin);
            if (c == 0) c = x.Added.CompareTo(y.Added);
            return c;
        }
    }

    public void Dispose()
    {
        _many.Dispose();
        _one.Dispose();
        _connection.Dispose();
    }
}
