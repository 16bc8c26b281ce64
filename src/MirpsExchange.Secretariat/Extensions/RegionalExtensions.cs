using MirpsExchange.Secretariat.Grpc;
using MirpsExchange.Secretariat.Regional;

namespace MirpsExchange.Secretariat.Extensions;

/// <summary>
/// The regional indicators on top of a host that already has the node's store, catalogue, clock and
/// authentication (AddNode / MapNode): the Secretariat's replica of every State is that store.
/// </summary>
public static class RegionalExtensions
{
    public static IHostApplicationBuilder AddRegional(this IHostApplicationBuilder builder)
    {
        builder.Services.AddScoped<RegionalAggregator>();
        builder.Services.AddScoped<RegionalIndicators>();
        builder.Services.AddSingleton<RegionalRequests>();
        builder.Services.AddOptions<CalendarOptions>().Bind(builder.Configuration.GetSection(CalendarOptions.Section));
        builder.Services.AddSingleton<ReportingCalendar>();
        // DUE_SOON and OVERDUE webhooks, beside the node's own events.
        builder.Services.AddSingleton<Node.Notifications.IWebhookEventSource, CalendarEvents>();
        return builder;
    }

    public static WebApplication MapRegional(this WebApplication app)
    {
        app.MapGrpcService<RegionalGrpcService>().RequireAuthorization();
        return app;
    }
}
