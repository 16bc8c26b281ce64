using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Mirps.Notification.V1;
using MirpsExchange.Node.Notifications;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// A webhook receiver on real Kestrel at 127.0.0.1 (ephemeral port): records every POST with its headers, and answers the
/// status codes a test queues (then <see cref="DefaultStatus"/>). <see cref="Verified"/> checks each signature as a receiver
/// does (docs/webhooks.md).
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<int> _answers = new();

    public sealed record Received(string Id, string Timestamp, string Signature, string Body, int AnsweredStatus)
    {
        public WebhookEvent Event => WebhookEvent.Parser.ParseJson(Body);
    }

    private WebhookReceiver(WebApplication app)
    {
        _app = app;
        Url = app.Urls.First() + "/hooks/mirps";
    }

    public string Url { get; }

    /// <summary>What the receiver answers once the queued answers are used up.</summary>
    public int DefaultStatus { get; set; } = 200;

    /// <summary>How long the receiver stalls before it answers (a slow receiver).</summary>
    public TimeSpan Stall { get; set; }

    /// <summary>Every request, answered or not, in arrival order.</summary>
    public ConcurrentQueue<Received> Requests { get; } = new();

    /// <summary>The events accepted (2xx), in order.</summary>
    public List<WebhookEvent> Accepted => [.. Requests.Where(r => r.AnsweredStatus is >= 200 and < 300).Select(r => r.Event)];

    public void AnswerNext(params int[] statuses)
    {
        foreach (var status in statuses)
        {
            _answers.Enqueue(status);
        }
    }

    /// <summary>Whether every request received carries a valid signature of <paramref name="secret"/> (base64) made within 5 minutes.</summary>
    public bool AllVerified(string secret) => Requests.All(r => Verified(r, secret));

    public static bool Verified(Received r, string secret) =>
        WebhookSigning.Verify(Convert.FromBase64String(secret), r.Id, r.Timestamp, r.Body, r.Signature, DateTimeOffset.UtcNow, TimeSpan.FromMinutes(5));

    /// <summary>Waits until <paramref name="done"/> holds of the accepted events (30 s, then fails naming what arrived).</summary>
    public async Task<List<WebhookEvent>> WhenAsync(Func<List<WebhookEvent>, bool> done, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var accepted = Accepted;
            if (done(accepted))
            {
                return accepted;
            }
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"{what}: not received within {seconds} s; received: {string.Join(", ", Requests.Select(r => $"{r.Id} ({r.AnsweredStatus})"))}");
            }
            await Task.Delay(50);
        }
    }

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = (WebhookReceiver?)null;
        app.MapPost("/hooks/mirps", async (HttpRequest request) =>
        {
            using var reader = new StreamReader(request.Body);
            var body = await reader.ReadToEndAsync();
            var status = receiver!._answers.TryDequeue(out var queued) ? queued : receiver.DefaultStatus;
            receiver.Requests.Enqueue(new Received(request.Headers[WebhookSigning.IdHeader].ToString(), request.Headers[WebhookSigning.TimestampHeader].ToString(),
                request.Headers[WebhookSigning.SignatureHeader].ToString(), body, status));
            if (receiver.Stall > TimeSpan.Zero)
            {
                await Task.Delay(receiver.Stall);
            }
            return Results.StatusCode(status);
        });
        await app.StartAsync();
        receiver = new WebhookReceiver(app);
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
