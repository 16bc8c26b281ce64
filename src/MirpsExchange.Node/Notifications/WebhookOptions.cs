namespace MirpsExchange.Node.Notifications;

/// <summary>Configuration section "Webhooks": how this node derives and delivers signed webhooks (docs/webhooks.md).</summary>
public sealed class WebhookOptions
{
    public const string Section = "Webhooks";

    /// <summary>How often the store is read for new events.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the outbox is looked at for deliveries due (a new event wakes it at once).</summary>
    public TimeSpan DeliveryInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The wait after a first failed attempt; it doubles with every failure up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How long a receiver has to answer.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a delivery waits for the receiver's host to take the TCP connection (a filtered host never answers); past it
    /// the attempt reads as any other connection failure (<see cref="WebhookUrls.Unreachable(string)"/>). Not less than
    /// <see cref="Timeout"/>: half of it.
    /// </summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The connect timeout in force: <see cref="ConnectTimeout"/>, or half of <see cref="Timeout"/> when that is not less.</summary>
    public TimeSpan EffectiveConnectTimeout => ConnectTimeout < Timeout ? ConnectTimeout : Timeout / 2;

    /// <summary>Consecutive failed attempts after which a subscription lists as FAILING.</summary>
    public int FailingAfter { get; set; } = 3;

    /// <summary>Subscriptions one node holds at most.</summary>
    public int MaxSubscriptions { get; set; } = 50;

    /// <summary>DUE_SOON fires this many days before a due date (Secretariat).</summary>
    public int DueSoonDays { get; set; } = 7;

    /// <summary>DUE_SOON and OVERDUE look at due dates at most this many days back (Secretariat).</summary>
    public int LookbackDays { get; set; } = 30;

    /// <summary>
    /// How long a delivered event stays in the delivery log (with its attempts) before the delivery worker prunes it.
    /// Undelivered events are never pruned. An event's id is kept at least as long as a calendar event could be found again
    /// (<see cref="LookbackDays"/> + <see cref="DueSoonDays"/> + 2 days), so nothing is sent twice.
    /// </summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How often the delivery worker prunes what <see cref="Retention"/> lets go.</summary>
    public TimeSpan PruneInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Development only: receivers on a loopback address (http or https), for the node's own party and <see cref="TrustedOwners"/>.
    /// Off, a loopback URL is refused.
    /// </summary>
    public bool AllowLoopback { get; set; }

    /// <summary>Receivers on link-local addresses (169.254.0.0/16, fe80::/10), where cloud metadata services answer. Off by default (SSRF).</summary>
    public bool AllowLinkLocal { get; set; }

    /// <summary>
    /// Receivers on private networks (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7, local-use NAT64), for a node whose
    /// receivers are internal systems. Off by default (SSRF: a subscriber reaching the node's internal network).
    /// </summary>
    public bool AllowPrivate { get; set; }

    /// <summary>
    /// The owners (States' ISO3 codes; "*" for all, development only) whose subscriptions the internal allowances above apply
    /// to, besides the node's own party (its State; at the Secretariat's node, the Secretariat), to which they always apply.
    /// Empty by default: at the Secretariat's node, a State's receiver is never on the Secretariat's internal network.
    /// </summary>
    public string[] TrustedOwners { get; set; } = [];

    /// <summary>Deliveries in flight at once at most (each to another subscription): one slow receiver holds one of them, never the others.</summary>
    public int MaxConcurrentDeliveries { get; set; } = 16;

    /// <summary>
    /// Deliveries in flight at once at most for one owner's subscriptions (a State may hold up to 50): one owner's stalled
    /// receivers hold this many of <see cref="MaxConcurrentDeliveries"/>, never every slot; freed slots go round the owners in turn.
    /// </summary>
    public int MaxConcurrentDeliveriesPerOwner { get; set; } = 4;

    /// <summary>The file of the key every subscription's secret is derived from; empty: webhook-secrets.key in Node:DataDirectory (created owner-only).</summary>
    public string SecretKeyFile { get; set; } = "";
}
