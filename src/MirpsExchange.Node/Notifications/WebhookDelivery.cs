using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Notifications;

/// <summary>
/// Sends the outbox (docs/webhooks.md): per subscription, the oldest undelivered event and nothing after it until it is
/// delivered (order per subscription), signed (<see cref="WebhookSigning"/>), POSTed with no redirect followed and only to
/// allowed addresses (<see cref="WebhookUrls"/>). A 2xx answer delivers it; anything else is logged as an attempt and
/// tried again after a backoff that doubles up to <see cref="WebhookOptions.MaxBackoff"/>, forever: nothing is dropped.
/// Each subscription's delivery runs on its own, up to <see cref="WebhookOptions.MaxConcurrentDeliveries"/> at once and
/// <see cref="WebhookOptions.MaxConcurrentDeliveriesPerOwner"/> per owner, each within <see cref="WebhookOptions.Timeout"/>: a
/// receiver that stalls holds its own queue, never another's, and one owner's stalled receivers hold at most its share of the
/// slots, which go round the owners in turn (<see cref="Fair"/>). Every
/// <see cref="WebhookOptions.PruneInterval"/> it prunes the delivery log (<see cref="PruneAsync"/>).
/// </summary>
public sealed partial class WebhookDelivery : BackgroundService
{
    private readonly IServiceScopeFactory _scopes;
    private readonly WebhookSignal _signal;
    private readonly WebhookSigning _signing;
    private readonly WebhookUrls _urls;
    private readonly WriteGate _gate;
    private readonly IOptions<WebhookOptions> _options;
    private readonly TimeProvider _clock;
    private readonly ILogger<WebhookDelivery> _logger;
    /// <summary>For subscriptions the internal allowances apply to, and for the others: two connection pools, so neither reuses a connection of the other.</summary>
    private readonly HttpClient _trusted, _untrusted;
    /// <summary>The subscriptions whose delivery is in flight, with their owner and the delivery's task.</summary>
    private readonly ConcurrentDictionary<string, (string Owner, Task Task)> _inFlight = new();
    /// <summary>The owner whose delivery was started last: the next round starts with the owner after it.</summary>
    private string _lastOwner = "";
    /// <summary>
    /// Held while the due heads are read and started, and while an attempt is recorded and its subscription freed: a head read
    /// before its attempt was recorded is never started again once the subscription is free.
    /// </summary>
    private readonly SemaphoreSlim _dispatch = new(1, 1);
    private DateTimeOffset? _lastPrune;

    public WebhookDelivery(IServiceScopeFactory scopes, WebhookSignal signal, WebhookSigning signing, WebhookUrls urls, WriteGate gate,
        IOptions<WebhookOptions> options, TimeProvider clock, ILogger<WebhookDelivery> logger)
    {
        (_scopes, _signal, _signing, _urls, _gate, _options, _clock, _logger) = (scopes, signal, signing, urls, gate, options, clock, logger);
        (_trusted, _untrusted) = (Client(urls.Connector(trusted: true), options.Value), Client(urls.Connector(trusted: false), options.Value));
    }

    private static HttpClient Client(Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> connect, WebhookOptions options)
    {
        var http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            UseCookies = false,
            ConnectCallback = connect,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        })
        { Timeout = options.Timeout };
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("MirpsExchange-Webhooks", "1"));
        return http;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield(); // the first round beside the rest of the start, not before the node listens (as WebhookDeriver)
        StoreLock? storeLock;
        await using (var scope = _scopes.CreateAsyncScope())
        {
            storeLock = scope.ServiceProvider.GetService<StoreLock>();
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // Not while the node does not hold its store's lock (third hostile review, finding C): another node may deliver
                // from the same outbox, and this one's attempt records are refused by the fence, so it re-sent every round.
                if (storeLock?.Lost is null)
                {
                    await PruneWhenDueAsync(stoppingToken);
                    await DispatchAsync(stoppingToken);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                LogDeliveryRoundFailed(_logger, e.Message);
            }
            try
            {
                await _signal.WaitAsync(_options.Value.DeliveryInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        try
        {
            await Task.WhenAll(_inFlight.Values.Select(f => f.Task)); // the attempts in flight end (cancelled) before the store closes
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    private sealed record Due(long DeliveryId, string SubscriptionId, string Owner, string Url, int Attempts, string EventId, string Body);

    private sealed record Outcome(Due Due, int StatusCode, string Error, int DurationMs)
    {
        public bool Delivered => StatusCode is >= 200 and < 300;
    }

    /// <summary>
    /// Starts the head of every subscription's queue that is due and not in flight already, as many as
    /// <see cref="WebhookOptions.MaxConcurrentDeliveries"/> leaves room for; each records its outcome when it ends, and a
    /// delivered one wakes this loop for the next event. Returns how many were started.
    /// </summary>
    private async Task<int> DispatchAsync(CancellationToken cancellationToken)
    {
        await _dispatch.WaitAsync(cancellationToken);
        try
        {
            return await DispatchHeldAsync(cancellationToken);
        }
        finally
        {
            _dispatch.Release();
        }
    }

    private async Task<int> DispatchHeldAsync(CancellationToken cancellationToken)
    {
        var room = _options.Value.MaxConcurrentDeliveries - _inFlight.Count;
        if (room <= 0)
        {
            return 0;
        }
        await using var scope = _scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NodeDbContext>();
        var now = StoreTime.ToMicros(_clock.GetUtcNow());
        var heads = await db.WebhookDeliveries.AsNoTracking().Where(d => !d.Delivered)
            .GroupBy(d => d.SubscriptionId).Select(g => g.Min(d => d.Id)).ToListAsync(cancellationToken);
        if (heads.Count == 0)
        {
            return 0;
        }
        var due = await (from d in db.WebhookDeliveries.AsNoTracking()
                         join s in db.WebhookSubscriptions.AsNoTracking() on d.SubscriptionId equals s.Id
                         join e in db.WebhookEvents.AsNoTracking() on d.EventId equals e.Id
                         where heads.Contains(d.Id) && d.NextAttemptTime <= now
                         orderby d.NextAttemptTime, d.Id
                         select new Due(d.Id, s.Id, s.Owner, s.Url, d.Attempts, e.EventKey, e.Body)).ToListAsync(cancellationToken);
        var started = 0;
        var inFlight = _inFlight.Values.GroupBy(f => f.Owner, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var starting = Fair(due.Where(d => !_inFlight.ContainsKey(d.SubscriptionId)), inFlight, _options.Value.MaxConcurrentDeliveriesPerOwner, _lastOwner).Take(room).ToList();
        if (starting.Count == 0)
        {
            return 0;
        }
        // Nothing is sent by a node that no longer holds its store's lock, whether it has noticed or not (finding 7): the round's
        // check of the lock (ExecuteAsync) sees only what the node noticed, up to Store:LockCheckInterval late, while another node
        // may deliver from the same outbox. A write transaction, checked by the store lock's fence in the store itself, tells.
        if (!await StoreWrites.HeldAsync(db, cancellationToken))
        {
            return 0;
        }
        foreach (var next in starting)
        {
            var run = new TaskCompletionSource();
            if (_inFlight.TryAdd(next.SubscriptionId, (next.Owner, run.Task)))
            {
                _lastOwner = next.Owner;
                _ = RunAsync(next, run, cancellationToken);
                started++;
            }
        }
        return started;
    }

    /// <summary>
    /// The due heads to start, in turn across owners: each owner's in order of when they fell due, at most
    /// <paramref name="perOwner"/> in flight per owner (<paramref name="inFlight"/> counts those already), one owner's next after
    /// one of every other owner's, starting with the owner after <paramref name="lastOwner"/> (ordinal order, wrapping round),
    /// so when slots free up no owner's backlog goes before another owner's first.
    /// </summary>
    private static IEnumerable<Due> Fair(IEnumerable<Due> due, Dictionary<string, int> inFlight, int perOwner, string lastOwner)
    {
        var queues = due.GroupBy(d => d.Owner, StringComparer.Ordinal)
            .Select(g => (Owner: g.Key, Queue: g.Take(Math.Max(0, perOwner - inFlight.GetValueOrDefault(g.Key))).ToList()))
            .Where(q => q.Queue.Count > 0)
            .OrderBy(q => string.CompareOrdinal(q.Owner, lastOwner) > 0 ? 0 : 1).ThenBy(q => q.Owner, StringComparer.Ordinal)
            .ToList();
        for (var round = 0; queues.Any(q => q.Queue.Count > round); round++)
        {
            foreach (var (_, queue) in queues.Where(q => q.Queue.Count > round))
            {
                yield return queue[round];
            }
        }
    }

    /// <summary>One attempt of one subscription's head: sent, recorded; the subscription is free again when it ends.</summary>
    private async Task RunAsync(Due due, TaskCompletionSource run, CancellationToken cancellationToken)
    {
        var held = false;
        try
        {
            var outcome = await SendAsync(due, cancellationToken);
            await _dispatch.WaitAsync(CancellationToken.None);
            held = true;
            await RecordAsync(outcome);
            if (outcome.Delivered)
            {
                _signal.Wake(); // the subscription's next event, at once
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            LogDeliveryRoundFailed(_logger, e.Message);
        }
        catch (OperationCanceledException)
        {
            // stopping: the attempt is made again after the restart
        }
        finally
        {
            _inFlight.TryRemove(due.SubscriptionId, out _);
            if (held)
            {
                _dispatch.Release();
            }
            run.SetResult();
        }
    }

    private async Task PruneWhenDueAsync(CancellationToken cancellationToken)
    {
        var now = _clock.GetUtcNow();
        // Due after an interval, or at once when the clock was set back (a prune far "in the future" would never come).
        if (_lastPrune is { } last && now >= last && now - last < _options.Value.PruneInterval)
        {
            return;
        }
        _lastPrune = now;
        var (deliveries, attempts, events) = await PruneAsync(cancellationToken);
        if (deliveries + attempts + events > 0)
        {
            LogPruned(_logger, deliveries, attempts, events);
        }
    }

    /// <summary>
    /// Removes what <see cref="WebhookOptions.Retention"/> lets go: deliveries delivered longer ago, with their attempts, and
    /// events no delivery refers to any more that were derived longer ago (and at least LookbackDays + DueSoonDays + 2 days
    /// ago: until then the calendar could find a DUE_SOON or OVERDUE again, and the stored id is what stops it being sent
    /// twice). An undelivered event, its delivery and its attempts are never removed: nothing waiting is lost.
    /// </summary>
    public async Task<(int Deliveries, int Attempts, int Events)> PruneAsync(CancellationToken cancellationToken)
    {
        var options = _options.Value;
        var now = _clock.GetUtcNow();
        var rederive = TimeSpan.FromDays(options.LookbackDays + options.DueSoonDays + 2);
        var delivered = StoreTime.ToMicros(now - options.Retention);
        var derived = StoreTime.ToMicros(now - (options.Retention > rederive ? options.Retention : rederive));
        await using var scope = _scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NodeDbContext>();
        using var held = await _gate.EnterAsync(cancellationToken);
        cancellationToken = CancellationToken.None; // short; finished once begun
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var old = db.WebhookDeliveries.Where(d => d.Delivered && d.DeliveredTime < delivered);
        var attempts = await db.WebhookAttempts.Where(a => old.Select(d => d.Id).Contains(a.DeliveryId)).ExecuteDeleteAsync(cancellationToken);
        var deliveries = await old.ExecuteDeleteAsync(cancellationToken);
        var events = await db.WebhookEvents.Where(e => e.OccurTime < derived && !db.WebhookDeliveries.Select(d => d.EventId).Contains(e.Id))
            .ExecuteDeleteAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return (deliveries, attempts, events);
    }

    private async Task<Outcome> SendAsync(Due due, CancellationToken cancellationToken)
    {
        var timestamp = _clock.GetUtcNow().ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, due.Url) { Content = new StringContent(due.Body, Encoding.UTF8, "application/json") };
        request.Headers.Add(WebhookSigning.IdHeader, due.EventId);
        request.Headers.Add(WebhookSigning.TimestampHeader, timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.Add(WebhookSigning.SignatureHeader, WebhookSigning.Sign(_signing.Secret(due.SubscriptionId), due.EventId, timestamp, due.Body));
        var watch = Stopwatch.StartNew();
        try
        {
            using var response = await (_urls.Trusted(due.Owner) ? _trusted : _untrusted).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            var code = (int)response.StatusCode;
            return new Outcome(due, code, code is >= 200 and < 300 ? "" : $"HTTP {code}", (int)watch.ElapsedMilliseconds);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            // What the subscriber reads (ListDeliveries, its last error): no address its host resolved to (WebhookUrls.Describe).
            var error = e is HttpRequestException failed ? WebhookUrls.Describe(failed, request.RequestUri!) : $"no answer within {_options.Value.Timeout.TotalSeconds:0.#} s";
            return new Outcome(due, 0, error.Length > 500 ? error[..500] : error, (int)watch.ElapsedMilliseconds);
        }
    }

    private async Task RecordAsync(Outcome outcome)
    {
        var options = _options.Value;
        await using var scope = _scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NodeDbContext>();
        // The attempt made is recorded even at shutdown (a cancelled save would be logged as an error, and the attempt lost).
        var cancellationToken = CancellationToken.None;
        using var held = await _gate.EnterAsync(cancellationToken);
        var now = StoreTime.ToMicros(_clock.GetUtcNow());
        var delivery = await db.WebhookDeliveries.FindAsync([outcome.Due.DeliveryId], cancellationToken);
        var subscription = await db.WebhookSubscriptions.FindAsync([outcome.Due.SubscriptionId], cancellationToken);
        if (delivery is null || subscription is null)
        {
            return; // removed meanwhile
        }
        delivery.Attempts++;
        db.WebhookAttempts.Add(new WebhookAttemptRow
        {
            DeliveryId = delivery.Id, AttemptTime = now, StatusCode = outcome.StatusCode, Error = outcome.Error, DurationMs = outcome.DurationMs,
        });
        if (outcome.Delivered)
        {
            (delivery.Delivered, delivery.DeliveredTime) = (true, now);
            (subscription.ConsecutiveFailures, subscription.LastSuccessTime) = (0, now);
        }
        else
        {
            var backoff = options.InitialBackoff * Math.Pow(2, Math.Min(delivery.Attempts - 1, 30));
            delivery.NextAttemptTime = now + (long)(backoff < options.MaxBackoff ? backoff : options.MaxBackoff).TotalMicroseconds;
            subscription.ConsecutiveFailures++;
            (subscription.LastFailureTime, subscription.LastError) = (now, outcome.Error);
            LogAttemptFailed(_logger, outcome.Due.EventId, subscription.Id, outcome.Error, delivery.Attempts);
        }
        await db.SaveChangesAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _trusted.Dispose();
        _untrusted.Dispose();
        _dispatch.Dispose();
        base.Dispose();
    }
    [LoggerMessage(EventName = "WebhookAttemptFailed", Level = LogLevel.Information,
        Message = "Webhook event {EventId} to subscription {SubscriptionId} failed ({Error}), attempt {Attempts}; tried again after a backoff")]
    private static partial void LogAttemptFailed(ILogger logger, string eventId, string subscriptionId, string error, int attempts);

    [LoggerMessage(EventName = "WebhookPruned", Level = LogLevel.Information,
        Message = "Pruned the webhook delivery log past Webhooks:Retention: {Deliveries} deliveries, {Attempts} attempts, {Events} events")]
    private static partial void LogPruned(ILogger logger, int deliveries, int attempts, int events);

    [LoggerMessage(EventName = "WebhookDeliveryRoundFailed", Level = LogLevel.Warning, Message = "A webhook delivery round failed (tried again): {Error}")]
    private static partial void LogDeliveryRoundFailed(ILogger logger, string error);
}
