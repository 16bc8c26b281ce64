using Microsoft.Extensions.Options;

namespace MirpsExchange.Node.ChangeLog;

/// <summary>The origin's log-signing key, when this node has a log of its own (a State's node; the Secretariat's writes none).</summary>
public sealed class OriginSigning(LogSigner? signer) : IDisposable
{
    public LogSigner Signer => signer ?? throw new InvalidOperationException("this node has no change log of its own (the Secretariat's node writes no data)");

    public bool HasLog => signer is not null;

    public void Dispose() => signer?.Dispose();
}

public static class ChangeLogExtensions
{
    /// <summary>
    /// The origin's side of the signed change log: its log-signing key (Node:LogSigningKeyFile, made at the
    /// first start, owner-only), which the submit writer signs every commit's head with.
    /// </summary>
    public static WebApplicationBuilder AddChangeLog(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(services =>
        {
            var options = services.GetRequiredService<IOptions<NodeOptions>>().Value;
            if (options.Country.Length == 0)
            {
                return new OriginSigning(null);
            }
            var environment = services.GetRequiredService<IHostEnvironment>();
            var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger<LogSigner>();
            return new OriginSigning(LogSigner.LoadOrCreate(options.Country, options.LogSigningKeyPath(environment.ContentRootPath), logger));
        });
        return builder;
    }
}
