using Mirps.Notification.V1;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Notifications;

/// <summary>What a node emits and how a subscription's event types are stored.</summary>
public static class WebhookSubscriptions
{
    /// <summary>The event types a State's node emits: about its own figures.</summary>
    public static readonly EventType[] StateEvents =
        [EventType.Approved, EventType.Unapproved, EventType.ChangedSinceApproval, EventType.EmbargoLifted];

    /// <summary>The event types the Secretariat's node emits.</summary>
    public static readonly EventType[] SecretariatEvents =
    [
        EventType.DataReceived, EventType.Approved, EventType.Unapproved, EventType.Accepted, EventType.Rejected, EventType.ChangedSinceApproval,
        EventType.DueSoon, EventType.Overdue,
    ];

    /// <summary>
    /// The event types a State subscribes to at the Secretariat's node: what the Secretariat did or noticed about that State's
    /// own figures (its approvals it hears of on its own node).
    /// </summary>
    public static readonly EventType[] StateEventsAtSecretariat =
        [EventType.DataReceived, EventType.Accepted, EventType.Rejected, EventType.DueSoon, EventType.Overdue];

    /// <summary>
    /// What a subscription of <paramref name="owner"/> (a State's ISO3, or empty: the Secretariat) may name on the node of
    /// <paramref name="nodeCountry"/> (empty: the Secretariat's).
    /// </summary>
    public static EventType[] Emitted(string nodeCountry, string owner) =>
        nodeCountry.Length > 0 ? StateEvents : owner.Length > 0 ? StateEventsAtSecretariat : SecretariatEvents;

    /// <summary>
    /// Whether <paramref name="subscription"/> hears of <paramref name="e"/> on the node of <paramref name="nodeCountry"/>: a
    /// type it subscribed to, and, on a State's node or for a State's subscription at the Secretariat, an event about that
    /// State only.
    /// </summary>
    public static bool Hears(WebhookSubscriptionRow subscription, WebhookEvent e, string nodeCountry) =>
        (nodeCountry.Length == 0 || e.Country == nodeCountry) && (subscription.Owner.Length == 0 || e.Country == subscription.Owner)
        && Types(subscription).Contains(e.Type);

    public static List<EventType> Types(WebhookSubscriptionRow row) =>
        [.. row.EventTypes.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(t => (EventType)int.Parse(t, System.Globalization.CultureInfo.InvariantCulture))];

    public static string Store(IEnumerable<EventType> types) =>
        string.Join(',', types.Distinct().Order().Select(t => ((int)t).ToString(System.Globalization.CultureInfo.InvariantCulture)));
}
