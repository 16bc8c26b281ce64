using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Mirps.Auth;
using Mirps.Tls;
using MirpsExchange.ServiceDefaults;
using OpenIddict.Abstractions;
using OpenIddict.Validation;

namespace MirpsExchange.Node.Extensions;

/// <summary>
/// Revocation that reaches the node within a minute: it polls the identity server's signed revocation
/// list every Node:RevocationPollInterval (15 s by default) and refuses, through
/// <see cref="CachedTokenAuthentication"/>, the tokens of cut-off credentials and compromised keys. The
/// same list publishes the States' log-signing keys (<see cref="RevocationList.TryGetLogKey"/>).
/// </summary>
public static partial class RevocationExtensions
{
    /// <summary>Longest poll interval allowed: with the identity server's one second of list caching, a revocation still arrives within a minute.</summary>
    public static readonly TimeSpan MaxPollInterval = TimeSpan.FromSeconds(59);

    public static WebApplicationBuilder AddRevocationList(this WebApplicationBuilder builder, NodeOptions node, Uri issuer, TlsOptions tls)
    {
        builder.Services.AddSingleton<RevocationList>();
        builder.Services.AddHealthChecks().AddCheck<RevocationHealthCheck>("revocation");
        builder.Services.AddSingleton(services => new RevocationPoller(
            services.GetRequiredService<RevocationList>(), services.GetRequiredService<IOptionsMonitor<OpenIddictValidationOptions>>(),
            issuer, node.RevocationPollInterval, tls.CaFile.Length > 0 ? tls.CaFile : null, services.GetRequiredService<ILogger<RevocationPoller>>()));
        builder.Services.AddHostedService(services => services.GetRequiredService<RevocationPoller>());
        builder.Services.AddOpenIddict().AddValidation(validation =>
        {
            validation.AddEventHandler(ExcludeCompromisedKeys.Descriptor);
            validation.AddEventHandler(RecordSigningKey.Descriptor);
        });
        return builder;
    }

    /// <summary>A compromised key verifies nothing here any more, even while OpenIddict's cached key set still holds it.</summary>
    private sealed class ExcludeCompromisedKeys(RevocationList revocations) : IOpenIddictValidationHandler<OpenIddictValidationEvents.ValidateTokenContext>
    {
        public static OpenIddictValidationHandlerDescriptor Descriptor { get; } =
            OpenIddictValidationHandlerDescriptor.CreateBuilder<OpenIddictValidationEvents.ValidateTokenContext>()
                .UseSingletonHandler<ExcludeCompromisedKeys>()
                .SetOrder(OpenIddictValidationHandlers.Protection.ResolveTokenValidationParameters.Descriptor.Order + 1)
                .SetType(OpenIddictValidationHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(OpenIddictValidationEvents.ValidateTokenContext context)
        {
            var compromised = revocations.Current.CompromisedKeys;
            if (compromised.Count > 0 && context.TokenValidationParameters.IssuerSigningKeys is { } keys)
            {
                // This request's own copy of the parameters (the step before clones them).
                context.TokenValidationParameters.IssuerSigningKeys = [.. keys.Where(k => !compromised.Contains(k.KeyId ?? ""))];
            }
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Remembers in the principal which key verified the token, so a cached token is refused once that key is compromised.</summary>
    private sealed class RecordSigningKey : IOpenIddictValidationHandler<OpenIddictValidationEvents.ValidateTokenContext>
    {
        public static OpenIddictValidationHandlerDescriptor Descriptor { get; } =
            OpenIddictValidationHandlerDescriptor.CreateBuilder<OpenIddictValidationEvents.ValidateTokenContext>()
                .UseSingletonHandler<RecordSigningKey>()
                .SetOrder(OpenIddictValidationHandlers.Protection.ValidateIdentityModelToken.Descriptor.Order + 1)
                .SetType(OpenIddictValidationHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(OpenIddictValidationEvents.ValidateTokenContext context)
        {
            if (context.Principal is { } principal && context.TokenValidationResult?.SecurityToken is JsonWebToken token)
            {
                // The key that verified the signature (a token without a kid is tried against every key), else the header's kid.
                principal.SetClaim(RevocationList.SigningKeyClaim, token.SigningKey?.KeyId ?? token.Kid);
            }
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>
    /// Starts the first fetch of the revocation list (with the identity server's discovery document and keys, and so the
    /// States' published log keys) now, in the background, rather than when the hosted services start after the store is
    /// migrated: a replica's first verified message waits for those keys. The same fetch and verification as every poll
    /// (<see cref="RevocationPoller"/>); the poller's next fetch comes one interval after this one.
    /// </summary>
    public static void PrefetchRevocationList(this WebApplication app) =>
        app.Services.GetRequiredService<RevocationPoller>().StartFirstPoll(app.Lifetime.ApplicationStopping);

    /// <summary>
    /// Fetches the list and the identity server's JWKS together each interval and verifies one against the
    /// other. While the identity server is unreachable, or when a list fails verification, the list held
    /// stays in force (a node that starts while the identity server is down holds none until it answers).
    /// The first fetch may start before the host does (<see cref="PrefetchRevocationList"/>); the interval is counted from it.
    /// </summary>
    internal sealed partial class RevocationPoller(
        RevocationList revocations, IOptionsMonitor<OpenIddictValidationOptions> validation, Uri issuer, TimeSpan interval, string? caFile,
        ILogger<RevocationPoller> logger) : BackgroundService
    {
        private bool _unreachable;
        private readonly HttpClient _http = new(FederationTrust.CreateHandler(caFile)) { Timeout = TimeSpan.FromSeconds(5) };
        private readonly Lock _firstPollLock = new();
        private Task? _firstPoll;
        private PeriodicTimer? _timer;

        /// <summary>Starts the first fetch unless it has started; the interval to the next one is counted from now.</summary>
        internal Task StartFirstPoll(CancellationToken cancellationToken)
        {
            lock (_firstPollLock)
            {
                if (_firstPoll is null)
                {
                    _timer = new PeriodicTimer(interval);
                    revocations.TakeRefreshRequest();
                    _firstPoll = Task.Run(() => PollAsync(_http, cancellationToken), CancellationToken.None);
                }
                return _firstPoll;
            }
        }

        public override void Dispose()
        {
            base.Dispose();
            _timer?.Dispose();
            _http.Dispose();
        }

        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            var http = _http;
            // The first fetch, begun before the store was migrated (PrefetchRevocationList) or now; PollAsync logs its own failures.
            await StartFirstPoll(stoppingToken).WaitAsync(stoppingToken).ContinueWith(static _ => { }, TaskScheduler.Default);
            var timer = _timer!;
            var tick = timer.WaitForNextTickAsync(stoppingToken).AsTask();
            var lastRequested = DateTimeOffset.MinValue;
            while (!stoppingToken.IsCancellationRequested)
            {
                // Each interval, or sooner when RefreshSoon asks (a replica met an unknown log key), at most once every MinRefreshInterval.
                var requested = revocations.RefreshRequested;
                if (await Task.WhenAny(tick, requested) == tick)
                {
                    if (!await tick)
                    {
                        return;
                    }
                    tick = timer.WaitForNextTickAsync(stoppingToken).AsTask();
                }
                else
                {
                    var wait = lastRequested + RevocationList.MinRefreshInterval - TimeProvider.System.GetUtcNow();
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, stoppingToken);
                    }
                    lastRequested = TimeProvider.System.GetUtcNow();
                }
                revocations.TakeRefreshRequest();
                await PollAsync(http, stoppingToken);
            }
        }

        private async Task PollAsync(HttpClient http, CancellationToken stoppingToken)
        {
            string jwt;
            JsonWebKeySet jwks;
            var manager = validation.CurrentValue.ConfigurationManager;
            try
            {
                var configuration = await manager!.GetConfigurationAsync(stoppingToken);
                jwt = await http.GetStringAsync(new Uri(issuer, RevocationListFormat.Path), stoppingToken);
                jwks = new JsonWebKeySet(await http.GetStringAsync(configuration.JsonWebKeySetUri ?? new Uri(issuer, ".well-known/jwks"), stoppingToken));
                if (jwks.Keys.Any(key => !configuration.SigningKeys.Any(known => known.KeyId == key.Kid)))
                {
                    // A key rolled in: have OpenIddict fetch the keys again now, not at a token's first failure.
                    manager.RequestRefresh();
                }
                if (_unreachable)
                {
                    _unreachable = false;
                    LogReachable(logger, issuer.AbsoluteUri);
                }
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // Whatever went wrong (unreachable, a timeout, an unreadable answer), the node keeps serving with the list it holds.
                if (!_unreachable)
                {
                    _unreachable = true;
                    LogUnreachable(logger, issuer.AbsoluteUri, revocations.Current.Version, e.Message);
                }
                return;
            }
            var held = revocations.Current;
            var first = revocations.ConfirmedAt is null;
            if (await revocations.TryApplyAsync(jwt, issuer.AbsoluteUri, jwks.GetSigningKeys()) is { } refused)
            {
                LogRefused(logger, issuer.AbsoluteUri, refused, held.Version);
            }
            else if (first)
            {
                StartUpTimeline.Mark("revocation list and log keys");
            }
            if (revocations.Current.Version != held.Version)
            {
                LogApplied(logger, revocations.Current.Version, revocations.Current.ClientCutoffs.Count, revocations.Current.CompromisedKeys.Count, revocations.Current.LogKeys.Count);
            }
        }

        [LoggerMessage(EventName = "RevocationListApplied", Level = LogLevel.Information,
            Message = "Revocation list version {Version} in force: {Clients} credentials cut off, {Keys} signing keys compromised, {LogKeys} log-signing keys published")]
        private static partial void LogApplied(ILogger logger, long version, int clients, int keys, int logKeys);

        [LoggerMessage(EventName = "RevocationListRefused", Level = LogLevel.Warning,
            Message = "The revocation list from {Issuer} was refused: {Reason}; the list held (version {Version}) stays in force")]
        private static partial void LogRefused(ILogger logger, string issuer, string reason, long version);

        [LoggerMessage(EventName = "RevocationListUnreachable", Level = LogLevel.Warning,
            Message = "Could not fetch the revocation list of {Issuer} ({Reason}); the list held (version {Version}) stays in force until it answers")]
        private static partial void LogUnreachable(ILogger logger, string issuer, long version, string reason);

        [LoggerMessage(EventName = "RevocationListReachable", Level = LogLevel.Information,
            Message = "The revocation list of {Issuer} can be fetched again")]
        private static partial void LogReachable(ILogger logger, string issuer);
    }
}
