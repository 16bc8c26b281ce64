using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Mirps.Auth;
using Mirps.Notification.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Node.Notifications;
using MirpsExchange.Node.Store;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Grpc;

/// <summary>
/// Webhook subscriptions (protos/README.md "Webhooks", docs/webhooks.md): a State's approver manages those of its own node,
/// the Secretariat's approver those of the Secretariat's node; at the Secretariat's node a State's approver also manages its
/// own State's subscriptions there, which hear of that State only. Every subscription has an owner (a State, or the
/// Secretariat), and nobody but its owner sees or touches it: another owner's id is NOT_FOUND.
/// </summary>
public sealed class NotificationGrpcService(NodeDbContext db, WebhookUrls urls, WebhookSigning signing, WebhookCursors cursors, WriteGate gate,
    IOptions<NodeOptions> node, IOptions<WebhookOptions> options, StandardCatalogue catalogue, TimeProvider clock)
    : NotificationService.NotificationServiceBase
{
    /// <summary>The State whose node this is, or empty: the Secretariat's.</summary>
    private string NodeCountry => node.Value.Country;

    public override async Task<CreateSubscriptionResponse> CreateSubscription(CreateSubscriptionRequest request, ServerCallContext context)
    {
        var (actor, owner) = RequireManager(context);
        var violations = new List<(string, string)>();
        if (urls.Refusal(request.Url, owner, out _) is { } refused)
        {
            violations.Add(("url", refused));
        }
        var emitted = WebhookSubscriptions.Emitted(NodeCountry, owner);
        if (request.EventTypes.Count == 0)
        {
            violations.Add(("event_types", $"name at least one event type ({string.Join(", ", emitted)})"));
        }
        for (var i = 0; i < request.EventTypes.Count; i++)
        {
            if (!emitted.Contains(request.EventTypes[i]))
            {
                violations.Add(($"event_types[{i}]", Enum.IsDefined(request.EventTypes[i]) && request.EventTypes[i] != EventType.Unspecified
                    ? $"{request.EventTypes[i]} is not emitted by {(NodeCountry.Length > 0 ? "a State's node" : owner.Length > 0 ? $"the Secretariat's node for {owner}" : "the Secretariat's node")} (it emits {string.Join(", ", emitted)})"
                    : $"unknown event type {(int)request.EventTypes[i]} (known: {string.Join(", ", emitted)})"));
            }
        }
        if (request.Description.Length > 200)
        {
            violations.Add(("description", "a description holds at most 200 characters"));
        }
        if (violations.Count > 0)
        {
            throw RpcErrors.InvalidArgument($"invalid subscription: {violations[0].Item2}", violations);
        }
        using var held = await gate.EnterAsync(context.CancellationToken);
        // Per owner: one State filling the Secretariat's node with subscriptions takes no room from another.
        if (await db.WebhookSubscriptions.CountAsync(s => s.Owner == owner, context.CancellationToken) >= options.Value.MaxSubscriptions)
        {
            throw RpcErrors.WithReason(Google.Rpc.Code.ResourceExhausted, "TOO_MANY_SUBSCRIPTIONS",
                $"this node holds {options.Value.MaxSubscriptions} subscriptions of {(owner.Length > 0 ? owner : "the Secretariat")} already (Webhooks:MaxSubscriptions): remove one first");
        }
        await using var transaction = await db.Database.BeginTransactionAsync(context.CancellationToken);
        if (!await db.WebhookSubscriptions.AnyAsync(context.CancellationToken))
        {
            // The first subscription: the events start here (a node with none derives nothing, and keeps no cursor moving).
            await cursors.StartAsync(db, context.CancellationToken);
        }
        var row = new WebhookSubscriptionRow
        {
            Id = "wh_" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12)),
            Owner = owner, Url = request.Url, EventTypes = WebhookSubscriptions.Store(request.EventTypes), Description = request.Description,
            CreatedBy = actor, CreatedTime = StoreTime.ToMicros(clock.GetUtcNow()),
        };
        db.WebhookSubscriptions.Add(row);
        await db.SaveChangesAsync(context.CancellationToken);
        await transaction.CommitAsync(context.CancellationToken);
        return new CreateSubscriptionResponse { Subscription = ToMessage(row, 0), Secret = Convert.ToBase64String(signing.Secret(row.Id)) };
    }

    public override async Task<ListSubscriptionsResponse> ListSubscriptions(ListSubscriptionsRequest request, ServerCallContext context)
    {
        var (_, owner) = RequireManager(context);
        var mine = db.WebhookSubscriptions.AsNoTracking().Where(s => s.Owner == owner);
        var pending = await db.WebhookDeliveries.AsNoTracking().Where(d => !d.Delivered && mine.Select(s => s.Id).Contains(d.SubscriptionId)).GroupBy(d => d.SubscriptionId)
            .Select(g => new { g.Key, Count = g.LongCount() }).ToDictionaryAsync(g => g.Key, g => g.Count, context.CancellationToken);
        var rows = await mine.OrderBy(s => s.CreatedTime).ThenBy(s => s.Id).ToListAsync(context.CancellationToken);
        return new ListSubscriptionsResponse { Subscriptions = { rows.Select(r => ToMessage(r, pending.GetValueOrDefault(r.Id))) } };
    }

    public override async Task<DeleteSubscriptionResponse> DeleteSubscription(DeleteSubscriptionRequest request, ServerCallContext context)
    {
        var (_, owner) = RequireManager(context);
        using var held = await gate.EnterAsync(context.CancellationToken);
        await using var transaction = await db.Database.BeginTransactionAsync(context.CancellationToken);
        var row = await FindAsync(owner, request.SubscriptionId, context.CancellationToken);
        var deliveries = db.WebhookDeliveries.Where(d => d.SubscriptionId == row.Id);
        await db.WebhookAttempts.Where(a => deliveries.Select(d => d.Id).Contains(a.DeliveryId)).ExecuteDeleteAsync(context.CancellationToken);
        await deliveries.ExecuteDeleteAsync(context.CancellationToken);
        await db.WebhookSubscriptions.Where(s => s.Id == row.Id).ExecuteDeleteAsync(context.CancellationToken);
        await transaction.CommitAsync(context.CancellationToken);
        return new DeleteSubscriptionResponse();
    }

    public override async Task<ListDeliveriesResponse> ListDeliveries(ListDeliveriesRequest request, ServerCallContext context)
    {
        var (_, owner) = RequireManager(context);
        if (request.PageSize is < 0 or > 500)
        {
            throw RpcErrors.InvalidArgument("page_size", "page_size must be between 1 and 500 (0 for 100)");
        }
        var row = await FindAsync(owner, request.SubscriptionId, context.CancellationToken);
        var size = request.PageSize == 0 ? 100 : request.PageSize;
        var deliveries = await (from d in db.WebhookDeliveries.AsNoTracking()
                                join e in db.WebhookEvents.AsNoTracking() on d.EventId equals e.Id
                                where d.SubscriptionId == row.Id
                                orderby d.Id descending
                                select new { Delivery = d, e.Body }).Take(size).ToListAsync(context.CancellationToken);
        var ids = deliveries.Select(d => d.Delivery.Id).ToList();
        var attempts = (await db.WebhookAttempts.AsNoTracking().Where(a => ids.Contains(a.DeliveryId)).OrderBy(a => a.Id).ToListAsync(context.CancellationToken))
            .ToLookup(a => a.DeliveryId);
        var response = new ListDeliveriesResponse();
        foreach (var d in deliveries)
        {
            var delivery = new Delivery { Event = WebhookEvent.Parser.ParseJson(d.Body), Delivered = d.Delivery.Delivered };
            if (!d.Delivery.Delivered)
            {
                delivery.NextAttemptTime = StoreTime.ToTimestamp(d.Delivery.NextAttemptTime);
            }
            delivery.Attempts.AddRange(attempts[d.Delivery.Id].Select(a => new DeliveryAttempt
            {
                AttemptTime = StoreTime.ToTimestamp(a.AttemptTime), StatusCode = a.StatusCode, Error = a.Error, DurationMs = a.DurationMs,
            }));
            response.Deliveries.Add(delivery);
        }
        return response;
    }

    /// <summary>
    /// <paramref name="owner"/>'s subscription with that id, or NOT_FOUND: another node's id, or another owner's here, is as
    /// unknown as a made-up one.
    /// </summary>
    private async Task<WebhookSubscriptionRow> FindAsync(string owner, string id, CancellationToken cancellationToken)
    {
        if (id.Length is 0 or > 40)
        {
            throw RpcErrors.InvalidArgument("subscription_id", "a subscription id (wh_...) is required");
        }
        return await db.WebhookSubscriptions.AsNoTracking().FirstOrDefaultAsync(s => s.Id == id && s.Owner == owner, cancellationToken)
            ?? throw RpcErrors.WithReason(Google.Rpc.Code.NotFound, "SUBSCRIPTION_NOT_FOUND", $"this node holds no subscription {id}");
    }

    private Subscription ToMessage(WebhookSubscriptionRow row, long pending)
    {
        var subscription = new Subscription
        {
            SubscriptionId = row.Id, Url = row.Url, EventTypes = { WebhookSubscriptions.Types(row) }, Description = row.Description, Owner = row.Owner,
            CreateTime = StoreTime.ToTimestamp(row.CreatedTime), CreatedBy = row.CreatedBy,
            Health = row.ConsecutiveFailures >= Math.Max(1, options.Value.FailingAfter) ? SubscriptionHealth.Failing : SubscriptionHealth.Healthy,
            ConsecutiveFailures = row.ConsecutiveFailures, PendingCount = pending, LastError = row.LastError,
        };
        if (row.LastSuccessTime is { } success)
        {
            subscription.LastSuccessTime = StoreTime.ToTimestamp(success);
        }
        if (row.LastFailureTime is { } failure)
        {
            subscription.LastFailureTime = StoreTime.ToTimestamp(failure);
        }
        return subscription;
    }

    /// <summary>
    /// An approver (the approve scope) and whose subscriptions it manages here: on a State's node, that State's (the State
    /// role and this node's country); on the Secretariat's node, the Secretariat's (the Secretariat role) or a State's own
    /// (the State role and its token's country, a MIRPS State). Returns who, and the owner.
    /// </summary>
    private (string Actor, string Owner) RequireManager(ServerCallContext context)
    {
        context.RequireScope(MirpsAuth.ApproveScope);
        var user = context.Caller();
        var role = user.FindFirst(MirpsAuth.RoleClaim)?.Value;
        var country = user.FindFirst(MirpsAuth.CountryClaim)?.Value ?? "";
        if (NodeCountry.Length > 0)
        {
            if (role != MirpsAuth.StateRole || country != NodeCountry)
            {
                throw CallerPermissions.Denied("COUNTRY_MISMATCH", $"this is {NodeCountry}'s node: only {NodeCountry}'s approvers manage its webhooks");
            }
            return (user.ClientId(), NodeCountry);
        }
        if (role == MirpsAuth.SecretariatRole)
        {
            return (user.ClientId(), "");
        }
        if (role == MirpsAuth.StateRole && catalogue.ReportingCountries.Contains(country))
        {
            return (user.ClientId(), country);
        }
        throw CallerPermissions.Denied("ROLE_NOT_ALLOWED", "the Secretariat's webhooks are managed by the Secretariat's approvers, and a State's own there by that State's approvers");
    }
}
