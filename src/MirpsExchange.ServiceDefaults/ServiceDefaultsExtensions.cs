using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;

namespace MirpsExchange.ServiceDefaults;

/// <summary>What every MirpsExchange server process registers: gRPC with sane limits, health, reflection, metrics.</summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>Largest message a server accepts; larger ones are refused with RESOURCE_EXHAUSTED before they are buffered.</summary>
    public const int MaxReceiveMessageBytes = 16 * 1024 * 1024;

    private static int MaxReceiveBytes(IConfiguration configuration) => configuration.GetValue("Grpc:MaxReceiveMessageBytes", MaxReceiveMessageBytes);

    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder, params string[] meterNames)
    {
        builder.Services.AddGrpc(options =>
        {
            options.MaxReceiveMessageSize = MaxReceiveBytes(builder.Configuration);
            options.EnableDetailedErrors = builder.Environment.IsDevelopment();
        }).AddHttpJson();
        builder.Services.AddGrpcHealthChecks().AddCheck("self", () => Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy());
        builder.Services.AddGrpcReflection();
        SlowClients.Configure(builder);

        // Framework chatter stays at Warning even when no appsettings.json sits beside the process.
        builder.Logging.AddFilter("Microsoft.EntityFrameworkCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("OpenIddict", LogLevel.Warning);
        builder.Logging.AddSimpleConsole(options =>
        {
            options.SingleLine = true;
            options.TimestampFormat = "HH:mm:ss.fff ";
        });
        // Exporters (console, OTLP, Prometheus): all off unless the Telemetry section turns them on (TelemetryOptions).
        var telemetry = TelemetryOptions.From(builder.Configuration);
        builder.Services.AddOpenTelemetry().WithMetrics(m =>
        {
            m.AddAspNetCoreInstrumentation().AddMeter(meterNames);
            TelemetryExporters.Add(builder, m, telemetry);
        });
        return builder;
    }

    /// <summary>
    /// Bounds slow request bodies that are not gRPC (<see cref="SlowClients"/>), and maps gRPC health checking (grpc.health.v1) and
    /// server reflection, and the OpenAPI document of the HTTP/JSON routes (<see cref="HttpJson.DocumentPath"/>); all three stay open to every caller. The Prometheus scrape path,
    /// when configured, answers on its own port only (<see cref="TelemetryOptions"/>).
    /// </summary>
    public static WebApplication MapServiceDefaults(this WebApplication app)
    {
        TelemetryExporters.Use(app);
        SlowClients.Use(app);
        app.UseHttpJson(MaxReceiveBytes(app.Configuration));
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
        return app;
    }

    /// <summary>HTTP/2 only: gRPC over cleartext (h2c) fails on an endpoint that also offers HTTP/1.1.</summary>
    public static void UseHttp2(this ListenOptions listen) => listen.Protocols = HttpProtocols.Http2;
}
