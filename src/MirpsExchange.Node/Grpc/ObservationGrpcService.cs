using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Catalogue.Validation;
using MirpsExchange.Node.Store;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Grpc;

public sealed partial class ObservationGrpcService(
    ObservationValidator validator,
    ObservationWriter writer,
    NodeDbContext db,
    IOptions<NodeOptions> options,
    TimeProvider clock,
    ILogger<ObservationGrpcService> logger) : ObservationService.ObservationServiceBase
{
    public const int DefaultStreamBatchSize = 1_000;
    public const int MaxStreamBatchSize = 10_000;
    public const int MaxRequestIdLength = 128;

    private string Country => options.Value.Country;

    public override async Task<SubmitObservationsResponse> SubmitObservations(SubmitObservationsRequest request, ServerCallContext context)
    {
        var ticket = Ticket(request.RequestId, nameof(SubmitObservations), request);
        var validation = validator.ValidateObservations(request.Observations, Country, Today());
        ThrowIfInvalid(validation.Violations, "observations");

        var rows = new WriteRow[request.Observations.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            var o = request.Observations[i];
            var period = validation.Periods[i];
            rows[i] = new WriteRow(o.IndicatorCode, o.Country, o.Period, o.Sex, o.Age, o.CountryOfOrigin, period.Start, period.End, o.Value, o.Status, o.Note);
        }
        var response = await writer.WriteAsync(Country, rows, ticket,
            outcome => new SubmitObservationsResponse
            {
                Inserted = outcome.Inserted,
                Revised = outcome.Revised,
                Unchanged = outcome.Unchanged,
                LastOriginSequence = outcome.LastOriginSequence,
            },
            stored => Replayed(SubmitObservationsResponse.Parser.ParseFrom(stored), r => r.Replayed = true),
            context.CancellationToken);
        LogSubmitted(rows.Length, response.Inserted, response.Revised, response.Unchanged, response.Replayed);
        return response;
    }

    public override async Task<DeleteObservationsResponse> DeleteObservations(DeleteObservationsRequest request, ServerCallContext context)
    {
        var ticket = Ticket(request.RequestId, nameof(DeleteObservations), request);
        var validation = validator.ValidateKeys(request.Keys, Country, DateOnly.MaxValue);
        ThrowIfInvalid(validation.Violations, "keys");

        var rows = new WriteRow[request.Keys.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            var k = request.Keys[i];
            var period = validation.Periods[i];
            rows[i] = new WriteRow(k.IndicatorCode, k.Country, k.Period, k.Sex, k.Age, k.CountryOfOrigin, period.Start, period.End, null, ObservationStatus.Unspecified, "");
        }
        var response = await writer.WriteAsync(Country, rows, ticket,
            outcome => new DeleteObservationsResponse
            {
                Deleted = outcome.Deleted,
                Absent = outcome.Absent,
                LastOriginSequence = outcome.LastOriginSequence,
            },
            stored => Replayed(DeleteObservationsResponse.Parser.ParseFrom(stored), r => r.Replayed = true),
            context.CancellationToken);
        LogDeleted(rows.Length, response.Deleted, response.Absent, response.Replayed);
        return response;
    }

    public override async Task StreamObservations(StreamObservationsRequest request, IServerStreamWriter<StreamObservationsResponse> responseStream, ServerCallContext context)
    {
        var query = ObservationQuery(request);
        var batchSize = request.BatchSize == 0 ? DefaultStreamBatchSize : request.BatchSize;
        var batch = new StreamObservationsResponse();
        await foreach (var row in query.AsAsyncEnumerable().WithCancellation(context.CancellationToken))
        {
            batch.Observations.Add(ToStored(row));
            if (batch.Observations.Count == batchSize)
            {
                await responseStream.WriteAsync(batch, context.CancellationToken);
                batch = new StreamObservationsResponse();
            }
        }
        if (batch.Observations.Count > 0)
        {
            await responseStream.WriteAsync(batch, context.CancellationToken);
        }
    }

    public override async Task<GetObservationHistoryResponse> GetObservationHistory(GetObservationHistoryRequest request, ServerCallContext context)
    {
        ThrowIfInvalid(validator.ValidateKey("key", request.Key), "key");
        var k = request.Key;
        var revisions = await db.Observations.AsNoTracking()
            .Where(o => o.IndicatorCode == k.IndicatorCode && o.Country == k.Country && o.Period == k.Period
                && o.Sex == k.Sex && o.Age == k.Age && o.CountryOfOrigin == k.CountryOfOrigin)
            .OrderBy(o => o.Revision)
            .ToListAsync(context.CancellationToken);
        if (revisions.Count == 0)
        {
            throw RpcErrors.WithReason(Google.Rpc.Code.NotFound, "OBSERVATION_NOT_FOUND",
                $"no observation has the key ({k.IndicatorCode}, {k.Country}, {k.Period}, {k.Sex}, {k.Age}, {k.CountryOfOrigin}) on this node");
        }
        return new GetObservationHistoryResponse { Revisions = { revisions.Select(ToStored) } };
    }

    private IQueryable<ObservationRow> ObservationQuery(StreamObservationsRequest request)
    {
        var violations = new List<Violation>();
        foreach (var (code, i) in request.IndicatorCodes.Select((c, i) => (c, i)))
        {
            if (validator.Catalogue.FindIndicator(code) is null)
            {
                violations.Add(new($"indicator_codes[{i}]", $"unknown indicator '{code}'"));
            }
        }
        var from = ParseBound(request.PeriodFrom, "period_from", violations);
        var to = ParseBound(request.PeriodTo, "period_to", violations);
        if (request.BatchSize is < 0 or > MaxStreamBatchSize)
        {
            violations.Add(new("batch_size", $"batch_size must be between 1 and {MaxStreamBatchSize:N0} (0 for the default {DefaultStreamBatchSize:N0})"));
        }
        ThrowIfInvalid(violations, "query");

        var asOf = request.AsOfTime is { } time ? ObservationWriter.ToMicros(time.ToDateTimeOffset()) : (long?)null;
        var query = db.Observations.AsNoTracking().AsOf(asOf)
            .WhereIn(request.IndicatorCodes, o => o.IndicatorCode)
            .WhereIn(request.Countries, o => o.Country)
            .WhereIn(request.Sexes, o => o.Sex)
            .WhereIn(request.Ages, o => o.Age)
            .WhereIn(request.CountriesOfOrigin, o => o.CountryOfOrigin);
        if (from is { } first)
        {
            query = query.Where(o => o.PeriodStart >= first.Start);
        }
        if (to is { } last)
        {
            query = query.Where(o => o.PeriodEnd <= last.End);
        }
        return query.OrderByKey();
    }

    private static Period? ParseBound(string text, string field, List<Violation> violations)
    {
        if (text.Length == 0)
        {
            return null;
        }
        if (Period.TryParse(text, out var period))
        {
            return period;
        }
        violations.Add(new(field, $"'{text}' is not {Period.Format}"));
        return null;
    }

    internal static StoredObservation ToStored(ObservationRow row) => new()
    {
        Observation = new Observation
        {
            IndicatorCode = row.IndicatorCode,
            Country = row.Country,
            Period = row.Period,
            Sex = row.Sex,
            Age = row.Age,
            CountryOfOrigin = row.CountryOfOrigin,
            Value = row.Value ?? 0,
            Status = row.Status,
            Note = row.Note,
        },
        Revision = row.Revision,
        Origin = row.Origin,
        OriginSequence = row.OriginSequence,
        RecordedTime = new Timestamp { Seconds = row.RecordedTime / 1_000_000, Nanos = (int)(row.RecordedTime % 1_000_000) * 1_000 },
        Deleted = row.Deleted,
    };

    private static RequestTicket? Ticket(string requestId, string operation, IMessage request)
    {
        if (requestId.Length == 0)
        {
            return null;
        }
        if (requestId.Length > MaxRequestIdLength)
        {
            throw RpcErrors.InvalidArgument("request_id", $"request_id holds at most {MaxRequestIdLength} characters");
        }
        return new RequestTicket(requestId, operation, SHA256.HashData(request.ToByteArray()));
    }

    private static T Replayed<T>(T response, Action<T> mark)
    {
        mark(response);
        return response;
    }

    private static void ThrowIfInvalid(IReadOnlyList<Violation> violations, string what)
    {
        if (violations.Count > 0)
        {
            var first = violations[0];
            var message = violations.Count == 1
                ? $"invalid {what}: {first}"
                : $"invalid {what}: {first} (and {violations.Count - 1} more in the details); nothing was written";
            throw RpcErrors.InvalidArgument(message, violations.Select(v => (v.Field, v.Description)));
        }
    }

    private DateOnly Today() => DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);

    [LoggerMessage(EventName = "ObservationsSubmitted", Level = LogLevel.Information,
        Message = "Submitted {Count} observations: {Inserted} inserted, {Revised} revised, {Unchanged} unchanged (replayed: {Replayed})")]
    private partial void LogSubmitted(int count, int inserted, int revised, int unchanged, bool replayed);

    [LoggerMessage(EventName = "ObservationsDeleted", Level = LogLevel.Information,
        Message = "Deleted {Count} keys: {Deleted} deleted, {Absent} absent (replayed: {Replayed})")]
    private partial void LogDeleted(int count, int deleted, int absent, bool replayed);
}
