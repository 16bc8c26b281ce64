using Google.Protobuf;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Mirps.Notification.V1;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Notifications;

/// <summary>
/// Turns what the store records into the outbox (docs/webhooks.md): every <see cref="WebhookOptions.PollInterval"/> it asks
/// each <see cref="IWebhookEventSource"/> for the events after its cursors and stores, in one transaction, the new events, one
/// delivery per subscription that wants each, and the cursors' new positions. A kill -9 before the commit loses nothing
/// (the cursors did not move) and duplicates nothing (an event id already stored is skipped). A node without subscriptions
/// reads nothing but that there are none: the first subscription starts the cursors (<see cref="WebhookCursors"/>).
/// </summary>
public sealed partial class WebhookDeriver(IServiceScopeFactory scopes, IEnumerable<IWebhookEventSource> sources, WebhookCursors starts, WebhookSignal signal,
    WriteGate gate, IOptions<WebhookOptions> options, IOptions<NodeOptions> node, TimeProvider clock, ILogger<WebhookDeriver> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Extensions.StartUpTimeline.Mark("webhooks start");
        // The first round runs beside the rest of the start (SQLite's queries complete synchronously: run here, it held back
        // the next hosted services and the node's listening by its queries' compilation).
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            var derived = 0;
            try
            {
                (var added, derived) = await RoundAsync(stoppingToken);
                if (added > 0)
                {
                    signal.Wake();
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogDeriveFailed(logger, e.Message);
            }
            if (derived > 0)
            {
                continue; // a busy store (a slice read whole, say): the next round at once, until one finds nothing new
            }
            try
            {
                await Task.Delay(options.Value.PollInterval, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One round; returns the deliveries added.</summary>
    public async Task<int> DeriveAsync(CancellationToken cancellationToken) => (await RoundAsync(cancellationToken)).Added;

    /// <summary>One round: the deliveries added, and the events stored (not found again: a calendar's are found every round).</summary>
    private async Task<(int Added, int Derived)> RoundAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NodeDbContext>();
        // The one read of a node nobody subscribed to (most nodes, most of the time).
        if (!await db.WebhookSubscriptions.AnyAsync(cancellationToken))
        {
            return (0, 0);
        }
        var cursors = await db.WebhookCursors.AsNoTracking().ToDictionaryAsync(c => c.Source, c => c.Position, cancellationToken);
        if (cursors.Count == 0)
        {
            // Subscriptions but no cursors (lost, or a store whose subscriptions came from elsewhere): from the oldest
            // subscription's creation, at most Webhooks:Retention back; an event found again whose id the outbox holds is skipped.
            using var starting = await gate.EnterAsync(cancellationToken);
            await using var begun = await db.Database.BeginTransactionAsync(CancellationToken.None);
            if (!await db.WebhookCursors.AnyAsync(CancellationToken.None))
            {
                await starts.StartAsync(db, await WebhookCursors.ResumeTimeAsync(db, options.Value, clock, CancellationToken.None), CancellationToken.None);
            }
            await begun.CommitAsync(CancellationToken.None);
            return (0, 0);
        }
        var events = new List<WebhookEvent>();
        var moved = new Dictionary<string, long>();
        foreach (var source in sources)
        {
            var (found, positions) = await source.CollectAsync(db, cursors, startAt: null, cancellationToken);
            events.AddRange(found);
            foreach (var (key, position) in positions)
            {
                moved[key] = position;
            }
        }
        moved = moved.Where(m => !cursors.TryGetValue(m.Key, out var held) || held != m.Value).Where(m => m.Value >= 0 || cursors.ContainsKey(m.Key)).ToDictionary();
        if (events.Count == 0 && moved.Count == 0)
        {
            return (0, 0);
        }
        // In the order things happened, so a receiver hears of an approval before the change that followed it.
        events = [.. events.DistinctBy(e => e.EventId).OrderBy(e => e.OccurTime.ToDateTimeOffset()).ThenBy(e => e.EventId, StringComparer.Ordinal)];
        var owner = node.Value.Country;
        var (added, stored) = (0, 0);
        using var held = await gate.EnterAsync(cancellationToken);
        // A write begun is finished (it is short): a commit cancelled at shutdown would be logged as a transaction error.
        cancellationToken = CancellationToken.None;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // The cursors read are still the store's (a first subscription, created meanwhile, starts them anew): else this round is dropped.
        var now = await db.WebhookCursors.AsNoTracking().ToDictionaryAsync(c => c.Source, c => c.Position, cancellationToken);
        if (now.Count != cursors.Count || now.Any(c => !cursors.TryGetValue(c.Key, out var read) || read != c.Value))
        {
            return (0, 1);
        }
        var subscriptions = await db.WebhookSubscriptions.AsNoTracking().ToListAsync(cancellationToken);
        var time = StoreTime.ToMicros(clock.GetUtcNow());
        foreach (var e in events)
        {
            if (await db.WebhookEvents.AnyAsync(x => x.EventKey == e.EventId, cancellationToken))
            {
                continue;
            }
            var row = new WebhookEventRow { EventKey = e.EventId, Type = (int)e.Type, Country = e.Country, Body = JsonFormatter.Default.Format(e), OccurTime = time };
            db.WebhookEvents.Add(row);
            await db.SaveChangesAsync(cancellationToken);
            stored++;
            // A State's node tells its own State of its own figures only, whatever a source found; and the Secretariat's node
            // tells a State's subscription of that State only.
            foreach (var subscription in subscriptions.Where(s => WebhookSubscriptions.Hears(s, e, owner)))
            {
                db.WebhookDeliveries.Add(new WebhookDeliveryRow { SubscriptionId = subscription.Id, EventId = row.Id, NextAttemptTime = time });
                added++;
            }
        }
        foreach (var (source, position) in moved)
        {
            if (await db.WebhookCursors.FindAsync([source], cancellationToken) is { } cursor)
            {
                if (position < 0)
                {
                    db.WebhookCursors.Remove(cursor); // a cursor a source no longer keeps
                }
                else
                {
                    cursor.Position = position;
                }
            }
            else if (position >= 0)
            {
                db.WebhookCursors.Add(new WebhookCursorRow { Source = source, Position = position });
            }
        }
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (added, stored);
    }

    [LoggerMessage(EventName = "WebhookDeriveFailed", Level = LogLevel.Warning, Message = "Reading webhook events from the store failed (tried again next round): {Error}")]
    private static partial void LogDeriveFailed(ILogger logger, string error);
}

/// <summary>
/// Where the deriver's cursors start: what the store holds when the first subscription is created (no subscription before
/// it), so a subscriber hears of what happens from then on, and a node nobody subscribes to keeps no cursor moving.
/// </summary>
public sealed class WebhookCursors(IEnumerable<IWebhookEventSource> sources)
{
    /// <summary>The start time that means the store's present (<see cref="IWebhookEventSource.CollectAsync"/>).</summary>
    public const long Present = long.MaxValue;

    /// <summary>
    /// Where a node resumes whose cursors cannot tell what it announced (lost): just before the oldest subscription's creation,
    /// so nothing that happened while anyone subscribed is lost, but at most <see cref="WebhookOptions.Retention"/> back, as far
    /// as the delivery log remembers what was sent (an event found again whose id it holds is not sent again).
    /// </summary>
    public static async Task<long> ResumeTimeAsync(NodeDbContext db, WebhookOptions options, TimeProvider clock, CancellationToken cancellationToken)
    {
        var now = StoreTime.ToMicros(clock.GetUtcNow());
        var oldest = await db.WebhookSubscriptions.MinAsync(s => (long?)s.CreatedTime, cancellationToken) ?? now;
        return Math.Max(oldest, now - (long)options.Retention.TotalMicroseconds) - 1;
    }

    /// <summary>Inside the caller's transaction, under the write gate: every cursor set anew, at the store's present.</summary>
    public Task StartAsync(NodeDbContext db, CancellationToken cancellationToken) => StartAsync(db, Present, cancellationToken);

    /// <summary>Inside the caller's transaction, under the write gate: every cursor set anew, at what the store held at <paramref name="at"/>.</summary>
    public async Task StartAsync(NodeDbContext db, long at, CancellationToken cancellationToken)
    {
        await db.WebhookCursors.ExecuteDeleteAsync(cancellationToken);
        var positions = new Dictionary<string, long>();
        foreach (var source in sources)
        {
            foreach (var (key, position) in (await source.CollectAsync(db, new Dictionary<string, long>(), at, cancellationToken)).Cursors)
            {
                positions[key] = position;
            }
        }
        db.WebhookCursors.AddRange(positions.Where(p => p.Value >= 0).Select(p => new WebhookCursorRow { Source = p.Key, Position = p.Value }));
        await db.SaveChangesAsync(cancellationToken);
    }
}

/// <summary>Wakes the delivery worker when the outbox grew.</summary>
public sealed class WebhookSignal
{
    private readonly SemaphoreSlim _wake = new(0, 1);

    public void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            try
            {
                _wake.Release();
            }
            catch (SemaphoreFullException)
            {
                // already awake
            }
        }
    }

    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _wake.WaitAsync(timeout, cancellationToken);
}
