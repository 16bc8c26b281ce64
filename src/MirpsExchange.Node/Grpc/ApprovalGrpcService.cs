using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Mirps.Approval.V1;
using Mirps.Auth;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Validation;
using MirpsExchange.Node.Approval;
using MirpsExchange.Node.Store;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Grpc;

/// <summary>
/// The reporting cycle (protos/README.md, "Approval"): a State approves and unapproves its figures on its own node
/// (signed entries of its lifecycle log, <see cref="LifecycleLog"/>), the Secretariat accepts and rejects them on its
/// node (signed entries of its own decision log, which replicates like a State's), and every node answers where each State x
/// group x period stands from what it holds.
/// </summary>
public sealed class ApprovalGrpcService(NodeDbContext db, LifecycleLog lifecycle, StandardCatalogue catalogue, IOptions<NodeOptions> options, TimeProvider clock,
    Sharing.SharingPolicies policies, DecisionLogGuard decisionLog)
    : ApprovalService.ApprovalServiceBase
{
    /// <summary>ErrorInfo reason: a cell to unapprove, accept or reject is not approved (or changed since).</summary>
    public const string NotApproved = "NOT_APPROVED";

    /// <summary>ErrorInfo reason: a cell to accept was revised since its approval.</summary>
    public const string ChangedSinceApproval = "CHANGED_SINCE_APPROVAL";

    /// <summary>ErrorInfo reason: a cell to approve has a change recorded after the log sequence its approver reviewed.</summary>
    public const string ChangedSinceReview = "CHANGED_SINCE_REVIEW";

    /// <summary>ErrorInfo reason: the Secretariat's decision log here may be incomplete (<see cref="DecisionLogGuard"/>).</summary>
    public const string DecisionLogRecovering = DecisionLogGuard.Recovering;

    private string NodeCountry => options.Value.Country;

    public override async Task<ApproveDataResponse> ApproveData(ApproveDataRequest request, ServerCallContext context)
    {
        var actor = RequireStateApprover(context);
        var violations = new List<(string, string)>();
        if (request.HasReviewedLogSequence && request.ReviewedLogSequence < 0)
        {
            violations.Add(("reviewed_log_sequence", "must not be negative (0: reviewed before the first change)"));
        }
        var cells = Cells(request.GroupIds, request.Periods, null, violations);
        // Judged under the write gate, in the transaction that records the entries: no change slips in between.
        Func<CancellationToken, Task<IReadOnlyList<LifecycleLog.Decided>?>>? judge = request.HasReviewedLogSequence
            ? async cancellationToken =>
            {
                await RequireUnchangedSinceAsync(cells, request.ReviewedLogSequence, cancellationToken);
                return null;
            }
            : null;
        var entries = await lifecycle.RecordAsync(NodeCountry, cells, LifecycleAction.Approve, "", actor, judge, context.CancellationToken);
        return new ApproveDataResponse { Entries = { entries }, Cells = { await StatusAsync(NodeCountry, cells, true, context.CancellationToken) } };
    }

    public override async Task<UnapproveDataResponse> UnapproveData(UnapproveDataRequest request, ServerCallContext context)
    {
        var actor = RequireStateApprover(context);
        var cells = Cells(request.GroupIds, request.Periods, request.Reason);
        var entries = await lifecycle.RecordAsync(NodeCountry, cells, LifecycleAction.Unapprove, request.Reason, actor,
            async cancellationToken =>
            {
                RequireStates(await StatusAsync(NodeCountry, cells, false, cancellationToken), "unapproved",
                    ApprovalState.Approved, ApprovalState.Accepted, ApprovalState.ChangedSinceApproval, ApprovalState.Rejected);
                return null;
            },
            context.CancellationToken);
        return new UnapproveDataResponse { Entries = { entries }, Cells = { await StatusAsync(NodeCountry, cells, true, context.CancellationToken) } };
    }

    public override Task<AcceptDataResponse> AcceptData(AcceptDataRequest request, ServerCallContext context) =>
        DecideAsync(context, request.Country, request.GroupIds, request.Periods, accepted: true, "",
            static (cells, entries) => new AcceptDataResponse { Cells = { cells }, Entries = { entries } });

    public override Task<RejectDataResponse> RejectData(RejectDataRequest request, ServerCallContext context) =>
        DecideAsync(context, request.Country, request.GroupIds, request.Periods, accepted: false, request.Reason,
            static (cells, entries) => new RejectDataResponse { Cells = { cells }, Entries = { entries } });

    public override async Task<GetApprovalStatusResponse> GetApprovalStatus(GetApprovalStatusRequest request, ServerCallContext context)
    {
        var reader = NodeAccess.RequireReader(context);
        var violations = new List<(string, string)>();
        for (var i = 0; i < request.Countries.Count; i++)
        {
            if (!catalogue.ReportingCountries.Contains(request.Countries[i]))
            {
                violations.Add(($"countries[{i}]", $"'{request.Countries[i]}' is not a MIRPS State ({string.Join(", ", catalogue.ReportingCountries.Order())})"));
            }
        }
        var named = ApprovalCells.Parse(catalogue, request.GroupIds, request.Periods, DateOnly.MaxValue, violations, required: false);
        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument($"invalid approval status request: {violations[0].Item2}", violations);
        }
        IEnumerable<string> countries = request.Countries.Count > 0 ? request.Countries.Distinct()
            : NodeCountry.Length > 0 ? [NodeCountry] : catalogue.ReportingCountries.Order(StringComparer.Ordinal);
        var response = new GetApprovalStatusResponse();
        // Changed since approval counts only the changes the reader may see: an embargoed revision, a held draft or an
        // indicator not shared with it would otherwise show which cell was revised, and when.
        var seenBy = new CellReader(reader, StoreTime.ToMicros(clock.GetUtcNow()),
            await DraftHold.ForAsync(db, NodeCountry, policies, catalogue, reader, context.CancellationToken));
        foreach (var country in countries)
        {
            // The keys changed since approval, and the reasons (an unapproval's, a rejection's), are the State's and the Secretariat's
            // business; other States see the states only.
            var concerned = LifecycleLog.ReadsReason(reader, country, "");
            // Groups and periods both named: every cell they name, drafts included; otherwise the cells with a lifecycle entry.
            var cells = await ApprovalCells.StatusAsync(db, catalogue, country, named.Count > 0 ? named : null, request.GroupIds, request.Periods, concerned,
                context.CancellationToken, seenBy: seenBy);
            if (!concerned)
            {
                cells.ForEach(cell => cell.Reason = "");
            }
            response.Cells.Add(cells);
        }
        return response;
    }

    public override async Task<ListLifecycleEntriesResponse> ListLifecycleEntries(ListLifecycleEntriesRequest request, ServerCallContext context)
    {
        var reader = NodeAccess.RequireReader(context);
        var violations = new List<(string, string)>();
        if (!LifecycleLog.IsOrigin(catalogue, request.Origin))
        {
            violations.Add(("origin", $"'{request.Origin}' is not a MIRPS State ({string.Join(", ", catalogue.ReportingCountries.Order())}) nor {MirpsAuth.Secretariat} (its decision log)"));
        }
        if (request.AfterEntrySequence < 0)
        {
            violations.Add(("after_entry_sequence", "must not be negative (0 lists from the first entry)"));
        }
        if (request.PageSize is < 0 or > LifecycleLog.MaxPage)
        {
            violations.Add(("page_size", $"page_size must be between 1 and {LifecycleLog.MaxPage:N0} (0 for {LifecycleLog.MaxPage:N0})"));
        }
        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument($"invalid lifecycle entries request: {violations[0].Item2}", violations);
        }
        var size = request.PageSize == 0 ? LifecycleLog.MaxPage : request.PageSize;
        return new ListLifecycleEntriesResponse { Entries = { await lifecycle.ListAsync(request.Origin, request.AfterEntrySequence, size, reader, context.CancellationToken) } };
    }

    /// <summary>
    /// The Secretariat's acceptance or rejection of the approval entries each cell stands on: entries of its signed decision log
    /// (<see cref="LifecycleLog"/>, origin "secretariat"), judged under the write gate in the transaction that records them.
    /// </summary>
    private async Task<TResponse> DecideAsync<TResponse>(ServerCallContext context, string country, IList<string> groups, IList<string> periods, bool accepted,
        string reason, Func<IEnumerable<ApprovalCell>, IEnumerable<LifecycleEntry>, TResponse> answer)
    {
        var actor = RequireSecretariatApprover(context);
        var violations = new List<(string, string)>();
        if (!catalogue.ReportingCountries.Contains(country))
        {
            violations.Add(("country", $"'{country}' is not a MIRPS State ({string.Join(", ", catalogue.ReportingCountries.Order())})"));
        }
        var cells = Cells(groups, periods, accepted ? null : reason, violations);
        // Never at a sequence the States may hold another decision at (a restored store, a lost disk): the decision log first.
        await decisionLog.RequireAsync(lifecycle, context.CancellationToken);
        var entries = await lifecycle.RecordAsync(MirpsAuth.Secretariat, cells, accepted ? LifecycleAction.Accept : LifecycleAction.Reject, reason, actor,
            async cancellationToken =>
            {
                // A change of the State applied here right after this still counts: a cell changed since approval reads so whatever was accepted.
                var status = await StatusAsync(country, cells, false, cancellationToken);
                RequireStates(status, accepted ? "accepted" : "rejected", ApprovalState.Approved, ApprovalState.Accepted, ApprovalState.Rejected);
                var decided = status.Select(cell => cell.EntrySequence).ToList();
                var hashes = await db.LifecycleEntries.AsNoTracking().Where(e => e.Origin == country && decided.Contains(e.EntrySequence))
                    .ToDictionaryAsync(e => e.EntrySequence, e => e.EntryHash, cancellationToken);
                return status.ConvertAll(cell => new LifecycleLog.Decided(country, cell.EntrySequence, hashes[cell.EntrySequence]));
            },
            context.CancellationToken);
        return answer(await StatusAsync(country, cells, true, context.CancellationToken), entries);
    }

    private Task<List<ApprovalCell>> StatusAsync(string country, List<(string Group, string Period)> cells, bool withKeys, CancellationToken cancellationToken) =>
        ApprovalCells.StatusAsync(db, catalogue, country, cells, [], [], withKeys, cancellationToken);

    /// <summary>The cells named (every group x period), or INVALID_ARGUMENT with a field violation per problem; a reason is required when not null.</summary>
    private List<(string Group, string Period)> Cells(IList<string> groups, IList<string> periods, string? reason, List<(string, string)>? violations = null)
    {
        violations ??= [];
        var cells = ApprovalCells.Parse(catalogue, groups, periods, DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime), violations);
        if (reason is not null && reason.Trim().Length == 0)
        {
            violations.Add(("reason", "say why: a reason is required"));
        }
        else if (reason?.Length > 1_000)
        {
            violations.Add(("reason", "a reason holds at most 1,000 characters"));
        }
        else if (reason is not null && ObservationValidator.RefusedCharacterAt(reason) is >= 0 and var at)
        {
            violations.Add(("reason", $"the reason holds the character U+{(int)reason[at]:X4} at position {at + 1:N0}: as in a note, no control character but tab and line feed (a line break is \\n), no bidi formatting"));
        }
        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument($"invalid approval request: {violations[0].Item2}", violations);
        }
        return cells;
    }

    /// <summary>
    /// FAILED_PRECONDITION (<see cref="ChangedSinceReview"/>), naming every cell of <paramref name="cells"/> with a change of this
    /// node's State recorded after change <paramref name="reviewed"/>: what the approver reviewed is not what would be approved.
    /// </summary>
    private async Task RequireUnchangedSinceAsync(List<(string Group, string Period)> cells, long reviewed, CancellationToken cancellationToken)
    {
        var origin = NodeCountry;
        var changed = new List<(string Group, string Period)>();
        foreach (var (group, period) in cells)
        {
            var indicators = ApprovalCells.Indicators(catalogue, group);
            if (await db.Observations.AsNoTracking().AnyAsync(o => o.Origin == origin && o.OriginSequence > reviewed && o.Period == period && indicators.Contains(o.IndicatorCode),
                cancellationToken))
            {
                changed.Add((group, period));
            }
        }
        if (changed.Count > 0)
        {
            throw RpcErrors.WithReason(Google.Rpc.Code.FailedPrecondition, ChangedSinceReview,
                $"{changed.Count} of the cells changed after change {reviewed}, which was reviewed; nothing was approved: "
                + string.Join(", ", changed.Take(20).Select(c => $"{origin} {c.Group} {c.Period}")),
                new Dictionary<string, string> { ["cells"] = string.Join(",", changed.Select(c => $"{origin}/{c.Group}/{c.Period}")) });
        }
    }

    /// <summary>FAILED_PRECONDITION, naming every cell in none of <paramref name="allowed"/>, unless all are.</summary>
    private static void RequireStates(List<ApprovalCell> cells, string what, params ApprovalState[] allowed)
    {
        var refused = cells.Where(c => !allowed.Contains(c.State)).ToList();
        if (refused.Count == 0)
        {
            return;
        }
        var changed = refused.Any(c => c.State == ApprovalState.ChangedSinceApproval);
        throw RpcErrors.WithReason(Google.Rpc.Code.FailedPrecondition, changed ? ChangedSinceApproval : NotApproved,
            $"{refused.Count} of the cells cannot be {what}, nothing was: " + string.Join(", ", refused.Take(20).Select(c => $"{c.Country} {c.GroupId} {c.Period} is {Describe(c.State)}")),
            new Dictionary<string, string> { ["cells"] = string.Join(",", refused.Select(c => $"{c.Country}/{c.GroupId}/{c.Period}")) });
    }

    private static string Describe(ApprovalState state) => state switch
    {
        ApprovalState.Draft => "a draft (not approved)",
        ApprovalState.ChangedSinceApproval => "changed since its approval (the State approves it again first)",
        _ => state.ToString().ToLowerInvariant(),
    };

    /// <summary>A State's approver on its own node: the approve scope, the State role and this node's country. Returns who.</summary>
    private string RequireStateApprover(ServerCallContext context)
    {
        context.RequireScope(MirpsAuth.ApproveScope);
        var user = context.Caller();
        if (user.FindFirst(MirpsAuth.RoleClaim)?.Value != MirpsAuth.StateRole)
        {
            throw CallerPermissions.Denied("ROLE_NOT_ALLOWED", "only a State approves its figures; the Secretariat accepts or rejects them (AcceptData, RejectData)");
        }
        var country = user.FindFirst(MirpsAuth.CountryClaim)?.Value;
        if (NodeCountry.Length == 0)
        {
            throw CallerPermissions.Denied("COUNTRY_MISMATCH", "the Secretariat's node holds no State's lifecycle log of its own: approve on your State's node");
        }
        if (country != NodeCountry)
        {
            throw CallerPermissions.Denied("COUNTRY_MISMATCH",
                $"this node holds {NodeCountry}'s figures and only {NodeCountry}'s approvers approve them; the caller's credential is {country ?? "of no country"}'s");
        }
        return user.ClientId();
    }

    /// <summary>The Secretariat's approver on the Secretariat's node. Returns who.</summary>
    private string RequireSecretariatApprover(ServerCallContext context)
    {
        context.RequireScope(MirpsAuth.ApproveScope);
        var user = context.Caller();
        if (user.FindFirst(MirpsAuth.RoleClaim)?.Value != MirpsAuth.SecretariatRole)
        {
            throw CallerPermissions.Denied("ROLE_NOT_ALLOWED", "only the Secretariat accepts or rejects a State's approved figures; a State approves its own (ApproveData)");
        }
        if (NodeCountry.Length > 0)
        {
            throw CallerPermissions.Denied("COUNTRY_MISMATCH", $"this is {NodeCountry}'s node: the Secretariat accepts on its own node, which holds its decisions");
        }
        return user.ClientId();
    }
}
