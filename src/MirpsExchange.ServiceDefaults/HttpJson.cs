using Google.Protobuf.Reflection;
using Google.Rpc;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi.Models;

namespace MirpsExchange.ServiceDefaults;

/// <summary>
/// HTTP/JSON for every RPC with a google.api.http route in protos/ (gRPC JSON transcoding): the same service
/// classes, the same authentication and authorization (the endpoints come from the same MapGrpcService calls), and
/// the same errors, a google.rpc.Status as JSON with its details (BadRequest, ErrorInfo) and the HTTP status that
/// matches its code. The routes are described by an OpenAPI document at <see cref="DocumentPath"/>.
/// </summary>
public static class HttpJson
{
    /// <summary>Where every server process serves the OpenAPI document of its HTTP/JSON routes (open to every caller, as health is).</summary>
    public const string DocumentPath = "/openapi/v1.json";

    /// <summary>
    /// The messages an error's details can hold: a google.protobuf.Any is written as JSON only when its type is
    /// known (RpcErrors packs BadRequest and ErrorInfo).
    /// </summary>
    private static readonly TypeRegistry ErrorDetails = TypeRegistry.FromMessages(BadRequest.Descriptor, ErrorInfo.Descriptor);

    public static IGrpcServerBuilder AddHttpJson(this IGrpcServerBuilder grpc)
    {
        grpc.AddJsonTranscoding(options => options.TypeRegistry = ErrorDetails);
        grpc.Services.AddGrpcSwagger();
        grpc.Services.AddSwaggerGen(options =>
        {
            options.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "MirpsExchange HTTP/JSON API",
                Version = "v1",
                Description = "The gRPC services of protos/ as HTTP/JSON (gRPC JSON transcoding). Every route but this document needs an access token from the federation's identity server (Authorization: Bearer).",
            });
            var bearer = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Reference = new OpenApiReference { Type = ReferenceType.SecurityScheme, Id = "bearer" },
            };
            options.AddSecurityDefinition("bearer", bearer);
            options.AddSecurityRequirement(new OpenApiSecurityRequirement { [bearer] = [] });
            // Each route and field described with its comment in protos/ (compiled into the contracts' XML documentation).
            var comments = Path.Combine(AppContext.BaseDirectory, typeof(Mirps.Auth.MirpsAuth).Assembly.GetName().Name + ".xml");
            if (File.Exists(comments))
            {
                options.IncludeXmlComments(comments);
                options.IncludeGrpcXmlComments(comments, includeControllerXmlComments: true);
            }
        });
        return grpc;
    }

    /// <summary>
    /// The OpenAPI document, and the receive limit for every request that is not gRPC: transcoding reads a JSON body
    /// whole, bounded only by Kestrel's request body limit (about 28.6 MiB by default), so it gets gRPC's receive limit
    /// (<paramref name="maxRequestBytes"/>, Grpc:MaxReceiveMessageBytes) instead. gRPC calls keep their own check
    /// (RESOURCE_EXHAUSTED), untouched: a request is one by the endpoint matched (<see cref="GrpcCalls.IsGrpcMethod"/>), not its Content-Type.
    /// </summary>
    public static WebApplication UseHttpJson(this WebApplication app, int maxRequestBytes)
    {
        app.Use((context, next) =>
        {
            if (!GrpcCalls.IsGrpcMethod(context)
                && context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = maxRequestBytes;
            }
            return next(context);
        });
        app.UseSwagger(options => options.RouteTemplate = "openapi/{documentName}.json"); // the "v1" document: DocumentPath
        return app;
    }
}
