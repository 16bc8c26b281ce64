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
/// (the cursors did not move) and duplicates nothing (an event id already stored is skipped).
/// </summary>
public sealed partial class WebhookDeriver(IServiceScopeFactory scopes, IEnumerable<IWebhookEventSource> sources, WebhookSignal signal, WriteGate gate,
    IOptions<WebhookOptions> options, IOptions<NodeOptions> node, TimeProvider clock, ILogger<WebhookDeriver> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await DeriveAsync(stoppingToken) > 0)
                {
                    signal.Wake();
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogDeriveFailed(logger, e.Message);
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
    public async Task<int> DeriveAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NodeDbContext>();
        var skip = !await db.WebhookSubscriptions.AnyAsync(cancellationToken);
        var cursors = await db.WebhookCursors.AsNoTracking().ToDictionaryAsync(c => c.Source, c => c.Position, cancellationToken);
        var events = new List<WebhookEvent>();
        var moved = new Dictionary<string, long>();
        foreach (var source in sources)
        {
            var (found, positions) = await source.CollectAsync(db, cursors, skip, cancellationToken);
            events.AddRange(found);
            foreach (var (key, position) in positions)
            {
                moved[key] = position;
            }
        }
        moved = moved.Where(m => !cursors.TryGetValue(m.Key, out var held) || held != m.Value).ToDictionary();
        if (events.Count == 0 && moved.Count == 0)
        {
            return 0;
        }
        // In the order things happened, so a receiver hears of an approval before the change that followed it.
        events = [.. events.DistinctBy(e => e.EventId).OrderBy(e => e.OccurTime.ToDateTimeOffset()).ThenBy(e => e.EventId, StringComparer.Ordinal)];
        var owner = node.Value.Country;
        var added = 0;
        using var held = await gate.EnterAsync(cancellationToken);
        // A write begun is finished (it is short): a commit cancelled at shutdown would be logged as a transaction error.
        cancellationToken = CancellationToken.None;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var subscriptions = await db.WebhookSubscriptions.AsNoTracking().ToListAsync(cancellationToken);
        var now = StoreTime.ToMicros(clock.GetUtcNow());
        foreach (var e in events)
        {
            if (await db.WebhookEvents.AnyAsync(x => x.EventKey == e.EventId, cancellationToken))
            {
                continue;
            }
            var row = new WebhookEventRow { EventKey = e.EventId, Type = (int)e.Type, Country = e.Country, Body = JsonFormatter.Default.Format(e), OccurTime = now };
            db.WebhookEvents.Add(row);
            await db.SaveChangesAsync(cancellationToken);
            // A State's node tells its own State of its own figures only, whatever a source found; and the Secretariat's node
            // tells a State's subscription of that State only.
            foreach (var subscription in subscriptions.Where(s => WebhookSubscriptions.Hears(s, e, owner)))
            {
                db.WebhookDeliveries.Add(new WebhookDeliveryRow { SubscriptionId = subscription.Id, EventId = row.Id, NextAttemptTime = now });
                added++;
            }
        }
        foreach (var (source, position) in moved)
        {
            if (await db.WebhookCursors.FindAsync([source], cancellationToken) is { } cursor)
            {
                if (position < 0)
                {
                    db.WebhookCursors.Remove(cursor); // a source's cursor it no longer needs (a late change arrived)
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
        return added;
    }

    [LoggerMessage(EventName = "WebhookDeriveFailed", Level = LogLevel.Warning, Message = "Reading webhook events from the store failed (tried again next round): {Error}")]
    private static partial void LogDeriveFailed(ILogger logger, string error);
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
