using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Mirps.Auth;
using Mirps.Tls;
using MirpsExchange.ServiceDefaults;
using OpenIddict.Validation;
using OpenIddict.Validation.AspNetCore;
using Polly;

namespace MirpsExchange.Node.Extensions;

/// <summary>
/// Nodes accept only access tokens from the federation's identity server, for this node's own audience,
/// validated locally against its published signing keys (cached; refetched when a token names an
/// unknown key id), so a short identity-server outage does not stop the node.
/// </summary>
public static partial class AuthenticationExtensions
{
    public static WebApplicationBuilder AddNodeAuthentication(this WebApplicationBuilder builder, NodeOptions node, TlsOptions tls)
    {
        var issuer = ParseIssuer(node.Issuer);
        builder.Services.AddOpenIddict().AddValidation(validation =>
        {
            validation.SetIssuer(issuer);
            // This node's audience only (the Secretariat's, with no country): a token for another node is refused.
            validation.AddAudiences(MirpsAuth.NodeAudience(node.Country));
            // A short retry: a request must not hang for the default ~15 s while the identity server is down.
            var http = validation.UseSystemNetHttp();
            // An https issuer is trusted against Tls:CaFile alone when one is configured (OpenIddict
            // accepts only an HttpClientHandler as primary handler, hence the callback form).
            if (tls.CaFile.Length > 0)
            {
                var trust = FederationTrust.ValidationCallback(tls.CaFile);
                // Over TLS the node presents its client certificate to the identity server too.
                var certificate = node.LoadClientCertificate(tls);
                http.ConfigureHttpClientHandler(handler =>
                {
                    handler.ServerCertificateCustomValidationCallback = trust;
                    if (certificate is not null)
                    {
                        handler.ClientCertificateOptions = ClientCertificateOption.Manual;
                        handler.ClientCertificates.Add(certificate);
                    }
                });
            }
            http.SetHttpResiliencePipeline(pipeline => pipeline
                .AddRetry(new Polly.Retry.RetryStrategyOptions<HttpResponseMessage>
                {
                    MaxRetryAttempts = 1,
                    Delay = TimeSpan.FromMilliseconds(200),
                    ShouldHandle = new PredicateBuilder<HttpResponseMessage>().Handle<HttpRequestException>().HandleResult(r => (int)r.StatusCode >= 500),
                })
                .AddTimeout(TimeSpan.FromSeconds(5)));
            validation.UseAspNetCore();
        });
        // After a signing key is rolled, the revocation poller asks OpenIddict to fetch the keys again
        // (RequestRefresh), which it does at most once per refresh interval (5 minutes by default): tokens of the
        // new key would be refused that long. 30 s keeps a roll within the minute; it also bounds how often a
        // token naming an unknown key can make the node fetch the keys (once per 30 s).
        builder.Services.PostConfigure<OpenIddictValidationOptions>(options =>
        {
            if (options.ConfigurationManager is Microsoft.IdentityModel.Protocols.ConfigurationManager<OpenIddict.Abstractions.OpenIddictConfiguration> manager)
            {
                manager.RefreshInterval = KeyRefreshInterval;
            }
        });
        builder.Services.AddSingleton<CachedTokenAuthentication.TokenCache>();
        builder.Services.AddAuthentication(CachedTokenAuthentication.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, CachedTokenAuthentication>(CachedTokenAuthentication.SchemeName, null);
        builder.Services.AddAuthorization();
        builder.Services.AddHostedService<SigningKeyWarmup>();
        builder.AddRevocationList(node, issuer, tls);
        return builder;
    }

    /// <summary>The shortest time between two fetches of the identity server's signing keys.</summary>
    public static readonly TimeSpan KeyRefreshInterval = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The issuer URL the node trusts. Over plain http anyone on the path could swap the signing keys
    /// the node fetches (and so mint tokens it accepts), so http is allowed only for an issuer on this
    /// machine's loopback (tests, the local federation); every other issuer must use https.
    /// </summary>
    internal static Uri ParseIssuer(string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var issuer) || issuer.Scheme is not ("http" or "https"))
        {
            throw new InvalidOperationException(
                $"Configuration key Node:Issuer must be the identity server's issuer URL, for example https://identity.mirps.example/; got '{value}'.");
        }
        if (Cleartext.Refusal("Configuration key Node:Issuer", issuer) is { } refusal)
        {
            throw new InvalidOperationException(refusal + ".");
        }
        return issuer;
    }

    /// <summary>Fetches the identity server's discovery document and keys at start-up, so the first call does not wait for them.</summary>
    private sealed partial class SigningKeyWarmup(IOptionsMonitor<OpenIddictValidationOptions> options, ILogger<SigningKeyWarmup> logger) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            try
            {
                var manager = options.CurrentValue.ConfigurationManager
                    ?? throw new InvalidOperationException("OpenIddict validation has no configuration manager.");
                await manager.GetConfigurationAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogUnreachable(logger, options.CurrentValue.Issuer?.ToString() ?? "", e.Message);
            }
        }

        [LoggerMessage(EventName = "IdentityServerUnreachable", Level = LogLevel.Warning,
            Message = "Could not fetch the signing keys of {Issuer} at start-up ({Reason}); calls will retry")]
        private static partial void LogUnreachable(ILogger logger, string issuer, string reason);
    }
}
