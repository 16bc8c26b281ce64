using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;

namespace MirpsExchange.ServiceDefaults;

/// <summary>
/// The Telemetry section: where a server's OpenTelemetry metrics go. Every exporter is off by default.
/// <list type="bullet">
/// <item>Telemetry:ConsoleExporter: printed to the console (development).</item>
/// <item>Telemetry:Otlp:Endpoint: pushed to an OpenTelemetry collector (OTLP, grpc or http/protobuf) every Telemetry:Otlp:ExportInterval.</item>
/// <item>Telemetry:Prometheus:Port: served for Prometheus to scrape at http://{Telemetry:Prometheus:ListenAddress}:{Port}/metrics,
/// on a port of its own that listens on loopback unless told otherwise. The metrics name the node's peers and how far behind
/// each pull is: for the operator's monitoring, not for the federation's clients, so the scrape path answers on that port only.</item>
/// </list>
/// </summary>
public sealed class TelemetryOptions
{
    public const string Section = "Telemetry";

    public bool ConsoleExporter { get; set; }

    public OtlpSettings Otlp { get; set; } = new();

    public PrometheusSettings Prometheus { get; set; } = new();

    public sealed class OtlpSettings
    {
        /// <summary>The collector's address; empty (the default): no OTLP export. With http/protobuf, the full URL of its metrics path.</summary>
        public string? Endpoint { get; set; }

        /// <summary>grpc (the default) or http/protobuf.</summary>
        public string Protocol { get; set; } = "grpc";

        /// <summary>Headers sent with every export ("key1=value1,key2=value2"), such as a collector's API key (keep it out of committed files).</summary>
        public string? Headers { get; set; }

        public TimeSpan ExportInterval { get; set; } = TimeSpan.FromSeconds(60);
    }

    public sealed class PrometheusSettings
    {
        /// <summary>The scrape port; unset (the default): no Prometheus endpoint. 0 picks a free port.</summary>
        public int? Port { get; set; }

        /// <summary>The address the scrape port listens on: 127.0.0.1 by default (the host's own agent); a monitoring network's interface only on purpose.</summary>
        public string ListenAddress { get; set; } = "127.0.0.1";

        public string Path { get; set; } = "/metrics";
    }

    public static TelemetryOptions From(IConfiguration configuration)
    {
        var options = configuration.GetSection(Section).Get<TelemetryOptions>() ?? new TelemetryOptions();
        if (options.Otlp.Endpoint is { Length: > 0 } endpoint && !Uri.TryCreate(endpoint, UriKind.Absolute, out _))
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(TelemetryOptions), [$"Configuration key Telemetry:Otlp:Endpoint must be an absolute URI; got '{endpoint}'."]);
        }
        if (options.Otlp.Protocol is not ("grpc" or "http/protobuf"))
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(TelemetryOptions), [$"Configuration key Telemetry:Otlp:Protocol must be grpc or http/protobuf; got '{options.Otlp.Protocol}'."]);
        }
        if (options.Otlp.ExportInterval <= TimeSpan.Zero)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(TelemetryOptions), ["Configuration key Telemetry:Otlp:ExportInterval must be positive."]);
        }
        if (options.Prometheus.Port is { } port && (port < 0 || port > 65535 || !IPAddress.TryParse(options.Prometheus.ListenAddress, out _) || !options.Prometheus.Path.StartsWith('/')))
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(TelemetryOptions),
                ["Telemetry:Prometheus needs a Port from 0 to 65535, an IP address in ListenAddress and a Path starting with '/'."]);
        }
        return options;
    }
}

/// <summary>The Prometheus scrape port once bound (<see cref="TelemetryOptions.PrometheusSettings"/>).</summary>
public sealed class PrometheusScrapeEndpoint(ListenOptions listen, string path)
{
    /// <summary>The bound port (the configured one, or the one picked for 0 once the server started).</summary>
    public int Port => listen.IPEndPoint!.Port;

    /// <summary>The scrape URL, once the server started.</summary>
    public Uri Address => new($"http://{FormatHost(listen.IPEndPoint!.Address)}:{Port}{path}");

    /// <summary>Only a request that came in on the scrape port, for the scrape path.</summary>
    public bool Serves(HttpContext context) =>
        context.Connection.LocalPort == Port && context.Request.Path.Equals(path, StringComparison.Ordinal);

    private static string FormatHost(IPAddress address) => address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
}

internal static class TelemetryExporters
{
    /// <summary>Adds the exporters Telemetry configures to the metrics pipeline, and the scrape port's listener.</summary>
    public static void Add(IHostApplicationBuilder builder, MeterProviderBuilder metrics, TelemetryOptions telemetry)
    {
        if (telemetry.ConsoleExporter)
        {
            metrics.AddConsoleExporter();
        }
        if (telemetry.Otlp.Endpoint is { Length: > 0 } endpoint)
        {
            metrics.AddOtlpExporter((exporter, reader) =>
            {
                exporter.Endpoint = new Uri(endpoint);
                exporter.Protocol = telemetry.Otlp.Protocol == "grpc" ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                if (telemetry.Otlp.Headers is { Length: > 0 } headers)
                {
                    exporter.Headers = headers;
                }
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)Math.Min(int.MaxValue, telemetry.Otlp.ExportInterval.TotalMilliseconds);
            });
        }
        if (telemetry.Prometheus.Port is { } port)
        {
            metrics.AddPrometheusExporter();
            var listen = (ListenOptions?)null;
            builder.Services.Configure<KestrelServerOptions>(kestrel => kestrel.Listen(IPAddress.Parse(telemetry.Prometheus.ListenAddress), port, options =>
            {
                options.Protocols = HttpProtocols.Http1;
                listen = options;
            }));
            builder.Services.AddSingleton(services =>
            {
                _ = services.GetRequiredService<IOptions<KestrelServerOptions>>().Value; // runs the Listen above
                return new PrometheusScrapeEndpoint(listen!, telemetry.Prometheus.Path);
            });
            // First in the pipeline: the scrape port is plain HTTP without client certificates, so it serves the scrape
            // path and nothing else (no HTTP/JSON, SDMX, web app or health over it, token or not).
            builder.Services.AddSingleton<IStartupFilter, ScrapePortOnlyFilter>();
        }
    }

    /// <summary>The scrape path, answered on the scrape port only (the server's other ports answer it as any unknown path).</summary>
    public static void Use(WebApplication app)
    {
        if (app.Services.GetService<PrometheusScrapeEndpoint>() is { } scrape)
        {
            app.UseOpenTelemetryPrometheusScrapingEndpoint(meterProvider: null, predicate: scrape.Serves, path: null, configureBranchedPipeline: null, optionsName: null);
        }
    }
}

/// <summary>On the scrape port, anything but the scrape path is 404, before any other middleware runs.</summary>
internal sealed class ScrapePortOnlyFilter(PrometheusScrapeEndpoint scrape) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use((context, following) =>
        {
            if (context.Connection.LocalPort == scrape.Port && !scrape.Serves(context))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }
            return following(context);
        });
        next(app);
    };
}

/// <summary>The addresses a server listens on for its clients (after start), in the order they were configured: the Prometheus scrape port left out.</summary>
public static class ServerAddresses
{
    public static List<string> Of(IServiceProvider services)
    {
        var addresses = services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses;
        var scrape = services.GetService<PrometheusScrapeEndpoint>();
        return [.. addresses.Where(a => scrape is null || !Uri.TryCreate(a, UriKind.Absolute, out var uri) || uri.Port != scrape.Port)];
    }
}
