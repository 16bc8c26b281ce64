using Microsoft.Extensions.Options;
using MirpsExchange.Node.Grpc;

namespace MirpsExchange.Node.Notifications;

public static class WebhookExtensions
{
    /// <summary>Signed webhooks: the Webhooks section, the node's webhook key, the event sources, the deriver and the delivery worker.</summary>
    public static WebApplicationBuilder AddWebhooks(this WebApplicationBuilder builder, NodeOptions node)
    {
        var section = builder.Configuration.GetSection(WebhookOptions.Section);
        var options = section.Get<WebhookOptions>() ?? new WebhookOptions();
        if (options.PollInterval <= TimeSpan.Zero || options.DeliveryInterval <= TimeSpan.Zero || options.InitialBackoff <= TimeSpan.Zero
            || options.MaxBackoff < options.InitialBackoff || options.Timeout <= TimeSpan.Zero || options.ConnectTimeout <= TimeSpan.Zero || options.DueSoonDays < 0 || options.LookbackDays < 0
            || options.Retention <= TimeSpan.Zero || options.PruneInterval <= TimeSpan.Zero || options.MaxConcurrentDeliveries < 1 || options.MaxConcurrentDeliveriesPerOwner < 1)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(WebhookOptions),
                ["Webhooks: PollInterval, DeliveryInterval, InitialBackoff, Timeout, ConnectTimeout, Retention and PruneInterval must be positive, MaxBackoff at least InitialBackoff, DueSoonDays and LookbackDays 0 or more, MaxConcurrentDeliveries and MaxConcurrentDeliveriesPerOwner at least 1."]);
        }
        builder.Services.AddOptions<WebhookOptions>().Bind(section);
        var keyFile = options.SecretKeyFile.Length > 0
            ? Path.GetFullPath(options.SecretKeyFile, builder.Environment.ContentRootPath)
            : Path.Combine(Path.GetFullPath(node.DataDirectory, builder.Environment.ContentRootPath), "webhook-secrets.key");
        builder.Services.AddSingleton(_ => WebhookSigning.FromFile(keyFile));
        builder.Services.AddSingleton<WebhookHostResolver>();
        builder.Services.AddSingleton(services => new WebhookUrls(services.GetRequiredService<IOptions<WebhookOptions>>().Value, services.GetRequiredService<IOptions<NodeOptions>>().Value.Country,
            services.GetRequiredService<WebhookHostResolver>(), services.GetRequiredService<ILogger<WebhookUrls>>()));
        builder.Services.AddSingleton<WebhookSignal>();
        builder.Services.AddSingleton<IWebhookEventSource, NodeEventSource>();
        builder.Services.AddSingleton<WebhookCursors>();
        builder.Services.AddHostedService<WebhookDeriver>();
        builder.Services.AddHostedService<WebhookDelivery>();
        return builder;
    }

    public static WebApplication MapWebhooks(this WebApplication app)
    {
        app.MapGrpcService<NotificationGrpcService>().RequireAuthorization();
        return app;
    }
}
