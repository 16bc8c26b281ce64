using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MirpsExchange.ServiceDefaults;

/// <summary>
/// Bounds on a client that sends its request slowly (a slow-loris), in every server process (the Http: section). A request's
/// headers must arrive within <see cref="RequestHeadersTimeout"/> (Kestrel's limit, 30 s by default, made shorter). A request
/// body that is not gRPC (the web upload page's file, an HTTP/JSON call, a token request) must arrive at
/// <see cref="MinRequestBodyBytesPerSecond"/> at least over HTTP/1.x (Kestrel measures it after a grace of 5 s; its default is
/// 240 B/s; it takes no per-request rate over HTTP/2) and
/// whole within <see cref="RequestBodyTimeout"/>, however fast it trickles: else the connection is cut (logged as a warning), so
/// a trickle cannot keep a reading slot or a buffer for longer. gRPC calls keep gRPC's own rules (a stream may last): a request is one
/// when routing matched a gRPC method (<see cref="GrpcCalls.IsGrpcMethod"/>), whatever Content-Type the client sent.
/// </summary>
public sealed partial class SlowClients
{
    public const string Section = "Http";

    /// <summary>How long a request's headers may take to arrive (Http:RequestHeadersTimeout).</summary>
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The slowest a request body other than gRPC may arrive, after 5 s of grace (Http:MinRequestBodyBytesPerSecond).</summary>
    public double MinRequestBodyBytesPerSecond { get; set; } = 1024;

    /// <summary>
    /// How long a request body other than gRPC may take to arrive in full, at any rate (Http:RequestBodyTimeout; 2 minutes by default:
    /// the web upload page's 8 MiB at 70 KB/s).
    /// </summary>
    public TimeSpan RequestBodyTimeout { get; set; } = TimeSpan.FromMinutes(2);

    private static readonly TimeSpan GracePeriod = TimeSpan.FromSeconds(5);

    public static SlowClients From(IConfiguration configuration) => configuration.GetSection(Section).Get<SlowClients>() ?? new SlowClients();

    /// <summary>Kestrel's request-headers timeout for every endpoint of the process.</summary>
    public static void Configure(IHostApplicationBuilder builder)
    {
        var limits = From(builder.Configuration);
        builder.Services.Configure<KestrelServerOptions>(kestrel => kestrel.Limits.RequestHeadersTimeout = limits.RequestHeadersTimeout);
    }

    /// <summary>
    /// The minimum rate and the deadline on every request body that is not gRPC: past the deadline with its body not all received,
    /// the connection is cut; the failed read that follows in the endpoint is the cut's, not an error of the application.
    /// </summary>
    public static void Use(WebApplication app)
    {
        var limits = From(app.Configuration);
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger<SlowClients>();
        app.Use(async (context, next) =>
        {
            // Not a gRPC method (its own rules; by the endpoint matched, not the client's Content-Type), not a request without a body,
            // not a connection upgrade (a WebSocket lives on).
            if (GrpcCalls.IsGrpcMethod(context)
                || context.Features.Get<IHttpRequestBodyDetectionFeature>() is not { CanHaveBody: true }
                || context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true }
                || context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true })
            {
                await next(context);
                return;
            }
            // Kestrel takes a request's own minimum rate over HTTP/1.x only (HTTP/2 and 3 refuse one): there the deadline bounds it.
            if ((HttpProtocol.IsHttp11(context.Request.Protocol) || HttpProtocol.IsHttp10(context.Request.Protocol))
                && context.Features.Get<IHttpMinRequestBodyDataRateFeature>() is { } rate)
            {
                rate.MinDataRate = new MinDataRate(limits.MinRequestBodyBytesPerSecond, GracePeriod);
            }
            var body = new ReceivedBody(context.Request.Body, context.Request.ContentLength);
            context.Request.Body = body;
            var cut = 0;
            using var deadline = new CancellationTokenSource(limits.RequestBodyTimeout);
            using var registration = deadline.Token.Register(() =>
            {
                if (!body.Ended && Interlocked.Exchange(ref cut, 1) == 0)
                {
                    LogCut(logger, context.Request.Method, context.Request.Path.Value ?? "", limits.RequestBodyTimeout, body.Received);
                    context.Abort();
                }
            });
            try
            {
                await next(context);
            }
            catch (Exception e) when (!body.Ended && (Volatile.Read(ref cut) == 1 || context.RequestAborted.IsCancellationRequested || TooSlow(e)))
            {
                // The client stopped sending (cut here, by Kestrel's minimum rate, or gone): nothing more to answer.
                LogGaveUp(logger, context.Request.Method, context.Request.Path.Value ?? "", body.Received, e.GetType().Name);
                context.Abort();
            }
        });
    }

    /// <summary>Whether a failure is Kestrel's minimum rate cutting the body (408), whatever wrapped it (the anti-forgery check of a form does).</summary>
    private static bool TooSlow(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is Microsoft.AspNetCore.Http.BadHttpRequestException { StatusCode: StatusCodes.Status408RequestTimeout })
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>A request body that notes how much has arrived and whether it has all arrived (its end read, or its Content-Length).</summary>
    private sealed class ReceivedBody(Stream inner, long? length) : Stream
    {
        private int _ended;
        private long _received;

        public bool Ended => Volatile.Read(ref _ended) == 1;

        public long Received => Interlocked.Read(ref _received);

        private int Note(int read, int asked)
        {
            if (read > 0)
            {
                if (Interlocked.Add(ref _received, read) >= length)
                {
                    Volatile.Write(ref _ended, 1);
                }
            }
            else if (asked > 0)
            {
                Volatile.Write(ref _ended, 1);
            }
            return read;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Note(await inner.ReadAsync(buffer, cancellationToken), buffer.Length);

        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            Note(await inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken), count);

        public override int Read(byte[] buffer, int offset, int count) => Note(inner.Read(buffer, offset, count), count);

        public override int Read(Span<byte> buffer) => Note(inner.Read(buffer), buffer.Length);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [LoggerMessage(EventName = "SlowRequestBodyCut", Level = LogLevel.Warning,
        Message = "{Method} {Path}: the request body had not all arrived after {Timeout} ({Received} bytes); the connection was cut (Http:RequestBodyTimeout)")]
    private static partial void LogCut(ILogger logger, string method, string path, TimeSpan timeout, long received);

    [LoggerMessage(EventName = "SlowRequestBodyGivenUp", Level = LogLevel.Warning,
        Message = "{Method} {Path}: the client stopped sending its request body after {Received} bytes ({Exception}); nothing was answered")]
    private static partial void LogGaveUp(ILogger logger, string method, string path, long received, string exception);
}
