using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using Microsoft.AspNetCore.Http;

namespace MirpsExchange.ServiceDefaults;

/// <summary>Which requests are gRPC calls, for the limits that treat them apart (<see cref="SlowClients"/>, <see cref="HttpJson"/>).</summary>
public static class GrpcCalls
{
    /// <summary>
    /// Whether routing matched a gRPC method (gRPC's own rules apply to it: its receive limit, its deadlines), rather than an HTTP/JSON
    /// route of one (transcoding reads a JSON body like any other endpoint), another endpoint or none. Decided by the endpoint,
    /// never by the client's Content-Type: a client that sends <c>application/grpc+json</c> to an HTTP/JSON route (transcoding reads it
    /// as JSON) or <c>application/grpc</c> to the upload page is not a gRPC call. Routing runs first in every process (WebApplication
    /// adds it before the other middleware); without an endpoint, the request is not a gRPC call.
    /// </summary>
    public static bool IsGrpcMethod(HttpContext context) =>
        context.GetEndpoint()?.Metadata is { } metadata
        && metadata.GetMetadata<GrpcMethodMetadata>() is not null
        && metadata.GetMetadata<GrpcJsonTranscodingMetadata>() is null;
}
