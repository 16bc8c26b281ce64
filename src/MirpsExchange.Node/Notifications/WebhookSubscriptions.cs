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

    public static EventType[] Emitted(string nodeCountry) => nodeCountry.Length > 0 ? StateEvents : SecretariatEvents;

    public static List<EventType> Types(WebhookSubscriptionRow row) =>
        [.. row.EventTypes.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(t => (EventType)int.Parse(t, System.Globalization.CultureInfo.InvariantCulture))];

    public static string Store(IEnumerable<EventType> types) =>
        string.Join(',', types.Distinct().Order().Select(t => ((int)t).ToString(System.Globalization.CultureInfo.InvariantCulture)));
}
