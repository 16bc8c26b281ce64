using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Catalogue.Validation;
using MirpsExchange.Node.Sharing;
using MirpsExchange.Node.Store;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Grpc;

/// <remarks>
/// Bound as generated but for SubmitObservations' request, which <see cref="SubmitRequestDecoder"/> decodes (<see cref="BindService"/>:
/// gRPC, JSON transcoding and reflection find the binding by this class's attribute, and its descriptor by <see cref="Descriptor"/>).
/// </remarks>
[BindServiceMethod(typeof(ObservationGrpcService), nameof(BindService))]
public sealed partial class ObservationGrpcService(
    ObservationValidator validator,
    SubmitWriter writer,
    NodeDbContext db,
    SharingPolicies policies,
    IOptions<NodeOptions> options,
    TimeProvider clock,
    MirpsExchange.Node.Extensions.RevocationList revocations,
    MirpsExchange.Node.Rules.StoredRuleCells rules,
    ObservationReads reads,
    MirpsExchange.Node.Rules.WrittenRuleTables written,
    ILogger<ObservationGrpcService> logger) : ObservationService.ObservationServiceBase
{
    public const int DefaultStreamBatchSize = 1_000;
    public const int MaxStreamBatchSize = 10_000;
    public const int MaxRequestIdLength = 128;

    private string Country => options.Value.Country;

    /// <summary>The service's descriptor, where JSON transcoding looks for it (beside <see cref="BindService"/>).</summary>
    public static Google.Protobuf.Reflection.ServiceDescriptor Descriptor => ObservationService.Descriptor;

    /// <summary>Binds the service as generated, SubmitObservations with its request decoded by <see cref="SubmitRequestDecoder"/>.</summary>
    /// <remarks>
    /// The second parameter is the generated base, not this class: grpc-dotnet takes the type the handlers must override from
    /// it (typed as this class, the node failed to start: "Could not find 'SubmitObservations' on ObservationGrpcService").
    /// </remarks>
    public static void BindService(ServiceBinderBase binder, ObservationService.ObservationServiceBase? service) =>
        ObservationService.BindService(new SubmitRequestDecoder.Binder(binder), service);

    public override async Task<SubmitObservationsResponse> SubmitObservations(SubmitObservationsRequest request, ServerCallContext context)
    {
        NodeAccess.RequireWriter(context, Country);
        var ticket = Ticket(request.RequestId, nameof(SubmitObservations), request);
        var validation = validator.ValidateObservations(request.Observations, Country, Today());
        ThrowIfInvalid(validation.Violations, "observations");

        var rows = new WriteRow[request.Observations.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            var o = request.Observations[i];
            var period = validation.Periods[i];
            rows[i] = new WriteRow(o.IndicatorCode, o.Country, o.Period, o.Sex, o.Age, o.CountryOfOrigin, validation.Dimensions[i], period.Start, period.End,
                o.Value, o.Status, o.Note, Mirps.Log.ValueAttributes.Of(o), policies.For(o.IndicatorCode));
        }
        List<ValidationResult> warnings = [];
        var warningCount = 0;
        MirpsExchange.Catalogue.Validation.Rules.RuleCells? cells = rules.RequestCells(Country, request.Observations, validation.Periods, validation.Dimensions);
        var response = await writer.WriteAsync(Country, rows, ticket,
            outcome => new SubmitObservationsResponse
            {
                Inserted = outcome.Inserted,
                Revised = outcome.Revised,
                Unchanged = outcome.Unchanged,
                LastOriginSequence = outcome.LastOriginSequence,
                Warnings = { warnings },
                WarningCount = warningCount,
            },
            stored => Replayed(SubmitObservationsResponse.Parser.ParseFrom(stored), r => r.Replayed = true),
            context.CancellationToken,
            // The rules judge the batch over the store as this write finds it, under the write gate: they read first, and judge
            // while the rows are inserted (SubmitWriter), before anything is committed.
            judge: async (transaction, cancellationToken) =>
            {
                // The tables the last submits left, unless anything else wrote since; every row must be among the cells for
                // the tables this one leaves to be whole (validation refuses a code the rules cannot pack first).
                var session = cells!.Request.Count == rows.Length ? await written.BeginAsync(transaction.Connection!, transaction, Country, cancellationToken) : null;
                var judgement = await rules.ReadAsync(transaction.Connection!, transaction, cells, cancellationToken, session);
                cells = null;
                return () =>
                {
                    var findings = judgement();
                    judgement = null!; // the cells and findings die here, before the write commits (kept alive, they would reach the oldest GC generation)
                    if (Rules.RuleReports.Refusal(findings) is { } refusal)
                    {
                        LogRefusedByRules(findings.Count(f => f.IsError), findings[0].Rule.Id);
                        throw refusal;
                    }
                    warnings = [.. Rules.RuleReports.Listed(findings)];
                    warningCount = findings.Count;
                    return session is null ? null : session.Committed;
                };
            });
        LogSubmitted(rows.Length, response.Inserted, response.Revised, response.Unchanged, response.Replayed);
        return response;
    }

    public override async Task<ValidateObservationsResponse> ValidateObservations(ValidateObservationsRequest request, ServerCallContext context)
    {
        NodeAccess.RequireWriter(context, Country);
        var validation = validator.ValidateObservations(request.Observations, Country, Today());
        ThrowIfInvalid(validation.Violations, "observations");
        var cells = rules.RequestCells(Country, request.Observations, validation.Periods, validation.Dimensions);
        await db.Database.OpenConnectionAsync(context.CancellationToken);
        try
        {
            // One read transaction: every table is read from the same committed state of the store (PostgreSQL: one snapshot).
            var connection = db.Database.GetDbConnection();
            await using var snapshot = connection is Microsoft.Data.Sqlite.SqliteConnection
                ? await connection.BeginTransactionAsync(context.CancellationToken)
                : await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, context.CancellationToken);
            var findings = await rules.JudgeAsync(db.Database.GetDbConnection(), snapshot, cells, context.CancellationToken);
            var errors = findings.Count(f => f.IsError);
            return new ValidateObservationsResponse
            {
                Results = { Rules.RuleReports.Listed(findings) },
                ErrorCount = errors,
                WarningCount = findings.Count - errors,
            };
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    public override async Task<DeleteObservationsResponse> DeleteObservations(DeleteObservationsRequest request, ServerCallContext context)
    {
        NodeAccess.RequireWriter(context, Country);
        var ticket = Ticket(request.RequestId, nameof(DeleteObservations), request);
        var validation = validator.ValidateKeys(request.Keys, Country, DateOnly.MaxValue);
        ThrowIfInvalid(validation.Violations, "keys");

        var rows = new WriteRow[request.Keys.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            var k = request.Keys[i];
            var period = validation.Periods[i];
            rows[i] = new WriteRow(k.IndicatorCode, k.Country, k.Period, k.Sex, k.Age, k.CountryOfOrigin, validation.Dimensions[i], period.Start, period.End,
                null, ObservationStatus.Unspecified, "", default, policies.For(k.IndicatorCode));
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
        var reader = NodeAccess.RequireReader(context);
        var observations = await reads.ServeAsync(request, reader, ObservationReads.Revisions.Current, context.CancellationToken);
        var batchSize = request.BatchSize == 0 ? DefaultStreamBatchSize : request.BatchSize;
        await foreach (var batch in StoredObservationBatches.ChunkAsync(observations, batchSize, context.CancellationToken))
        {
            // A slow reader's stream may outlive its token: not a batch more once it is revoked or expired.
            NodeAccess.RequireStillValid(context, revocations, clock);
            await responseStream.WriteAsync(new StreamObservationsResponse { Observations = { batch } }, context.CancellationToken);
        }
    }

    public override async Task<GetObservationHistoryResponse> GetObservationHistory(GetObservationHistoryRequest request, ServerCallContext context)
    {
        var reader = NodeAccess.RequireReader(context);
        var now = Now();
        ThrowIfInvalid(validator.ValidateKey("key", request.Key), "key");
        var k = request.Key;
        var added = validator.Catalogue.Normalised(k.IndicatorCode, Mirps.Log.AddedDimensions.Of(k));
        var (applicationType, decisionLevel, procedureType, countBasis, countryOfDestination) =
            (added.ApplicationType, added.DecisionLevel, added.ProcedureType, added.CountBasis, added.CountryOfDestination);
        // The revisions this reader may receive; a key with none is "not found" alike, so withheld keys are not revealed.
        var revisions = await db.Observations.AsNoTracking()
            .Where(o => o.IndicatorCode == k.IndicatorCode && o.Country == k.Country && o.Period == k.Period
                && o.Sex == k.Sex && o.Age == k.Age && o.CountryOfOrigin == k.CountryOfOrigin
                && o.ApplicationType == applicationType && o.DecisionLevel == decisionLevel && o.ProcedureType == procedureType
                && o.CountBasis == countBasis && o.CountryOfDestination == countryOfDestination)
            .VisibleTo(reader, now)
            .OrderBy(o => o.Revision)
            .ToListAsync(context.CancellationToken);
        RpcException NotFound() => RpcErrors.WithReason(Google.Rpc.Code.NotFound, "OBSERVATION_NOT_FOUND",
            $"no observation has the key ({ObservationKeys.Describe(k)}) on this node");
        if (revisions.Count == 0)
        {
            throw NotFound();
        }
        var served = new ServedObservations(reader, now)
        {
            Complementary = await ComplementaryWithholding.ForTablesAsync(
                db.Observations.AsNoTracking(), [ComplementaryWithholding.Table.Of(k.IndicatorCode, k.Country, k.Period)], reader, validator.Catalogue, now, context.CancellationToken,
                (ComplementaryWithholding.MemoOf(db, reader), db)),
            Drafts = await Approval.DraftHold.ForAsync(db, options.Value.Country, policies, validator.Catalogue, reader, context.CancellationToken),
        };
        var history = revisions.Select(served.Serve).Where(o => !ServedObservations.IsPlaceholder(o)).ToList();
        // A key whose every revision is a draft held back is not found, as a key never written (not an empty history).
        return history.Count > 0 ? new GetObservationHistoryResponse { Revisions = { history } } : throw NotFound();
    }

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

    internal static void ThrowIfInvalid(IReadOnlyList<Violation> violations, string what)
    {
        if (violations.Count > ObservationValidator.MaxReportedViolations)
        {
            // The details travel in a trailer: keep them as short as the validator keeps a batch's.
            var listed = ObservationValidator.MaxReportedViolations - 1;
            violations = [.. violations.Take(listed), new Violation(what, $"and {violations.Count - listed:N0} more violations not listed")];
        }
        if (violations.Count > 0)
        {
            var first = violations[0];
            var message = violations.Count == 1
                ? $"invalid {what}: {first}"
                : $"invalid {what}: {first} (and {violations.Count - 1} more in the details); nothing was written";
            throw RpcErrors.InvalidArgument(message, violations.Select(v => (v.Field, v.Description)));
        }
    }

    private long Now() => StoreTime.ToMicros(clock.GetUtcNow());

    private DateOnly Today() => DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);

    [LoggerMessage(EventName = "ObservationsSubmitted", Level = LogLevel.Information,
        Message = "Submitted {Count} observations: {Inserted} inserted, {Revised} revised, {Unchanged} unchanged (replayed: {Replayed})")]
    private partial void LogSubmitted(int count, int inserted, int revised, int unchanged, bool replayed);

    [LoggerMessage(EventName = "ObservationsRefusedByRules", Level = LogLevel.Information,
        Message = "Refused a batch that breaks {Errors} validation rule(s), first {Rule}; nothing written")]
    private partial void LogRefusedByRules(int errors, string rule);

    [LoggerMessage(EventName = "ObservationsDeleted", Level = LogLevel.Information,
        Message = "Deleted {Count} keys: {Deleted} deleted, {Absent} absent (replayed: {Replayed})")]
    private partial void LogDeleted(int count, int deleted, int absent, bool replayed);
}
