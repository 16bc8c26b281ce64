using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using MirpsExchange.Web.SignIn;

namespace MirpsExchange.Web;

/// <summary>
/// How a page reads data: through this process's own gRPC services over a loopback channel, each call
/// carrying the signed-in person's access token. The services authenticate and authorize it exactly as
/// a system's (audience, scopes, role, country, revocation, certificate binding, sharing policy), so a
/// page can never show more than the person's token may read. One channel per process.
/// </summary>
public sealed class NodeChannel(WebHost host, IServiceProvider services) : IDisposable
{
    private readonly Lazy<GrpcChannel> _channel = new(() => GrpcChannel.ForAddress(host.GrpcAddress(services), new GrpcChannelOptions
    {
        HttpHandler = Mirps.Tls.FederationTrust.CreateHandler(host.CaFile, host.ClientCertificate),
        DisposeHttpClient = true,
    }));

    public GrpcChannel Channel => _channel.Value;

    public void Dispose()
    {
        if (_channel.IsValueCreated)
        {
            _channel.Value.Dispose();
        }
    }
}

/// <summary>The calls of one request: the person's token as the bearer of every call.</summary>
public sealed class NodeCalls(NodeChannel channel, IHttpContextAccessor accessor)
{
    public CallInvoker Invoker => channel.Channel.CreateCallInvoker();

    /// <summary>Call options carrying the person's token and the request's cancellation.</summary>
    public async Task<CallOptions> OptionsAsync()
    {
        var http = accessor.HttpContext ?? throw new InvalidOperationException("No request: pages render on the server only.");
        var token = await http.GetTokenAsync(WebSignIn.Scheme, WebSignIn.AccessTokenName)
            ?? throw new InvalidOperationException("No signed-in person: the page must require sign-in.");
        return new CallOptions(new Metadata { { "Authorization", $"Bearer {token}" } }, cancellationToken: http.RequestAborted);
    }
}
