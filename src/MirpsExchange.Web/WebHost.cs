using System.Security.Cryptography.X509Certificates;

namespace MirpsExchange.Web;

/// <summary>
/// What the hosting process tells the web app about itself: whose process it is, the identity server it
/// trusts, where its own gRPC services listen and how to reach them: the people's pages read data only
/// through those services, with the person's token, and a new token is checked by calling them too.
/// </summary>
public sealed class WebHost
{
    /// <summary>The Secretariat's process (true) or a State's node.</summary>
    public required bool Secretariat { get; init; }

    /// <summary>
    /// The identity server's process: it serves the admin pages (credentials and accounts) only, as its admin API
    /// takes tokens for its own audience alone. Its people sign in there with the admin scope and no resource.
    /// </summary>
    public bool IdentityServer { get; init; }

    /// <summary>The node's State (ISO3); empty at the Secretariat and the identity server.</summary>
    public required string Country { get; init; }

    /// <summary>The identity server's issuer URL, with its trailing slash (at the identity server itself, known once it listens: see the factory overload of AddWebApp).</summary>
    public required Uri Issuer { get; init; }

    /// <summary>The audience this process's services accept (mirps-node:ISO3, mirps-node:secretariat, or mirps-identity at the identity server).</summary>
    public required string Audience { get; init; }

    /// <summary>This process's own gRPC address, known once it has started.</summary>
    public required Func<IServiceProvider, string> GrpcAddress { get; init; }

    /// <summary>The federation CA file (TLS), or null: cleartext or system trust.</summary>
    public string? CaFile { get; init; }

    /// <summary>Over TLS, the process's client certificate: presented to the identity server when redeeming a code (the token is bound to it) and to its own services.</summary>
    public X509Certificate2? ClientCertificate { get; init; }

    /// <summary>
    /// How a new token is checked where this process serves no CatalogService (the identity server: its own validation,
    /// as its admin API validates): the principal, or null when refused. Null here: the token is checked by calling
    /// this process's CatalogService with it, as every page's calls will be.
    /// </summary>
    public Func<IServiceProvider, string, CancellationToken, Task<System.Security.Claims.ClaimsPrincipal?>>? ValidateToken { get; init; }
}

/// <summary>The web app's configuration section (Web:).</summary>
public sealed class WebOptions
{
    public const string Section = "Web";

    /// <summary>
    /// The public client registered at the identity server for this web app (mirps accounts register-client
    /// --redirect-uri ADDRESS/signin-callback). Empty: nobody can sign in, and the pages say so.
    /// </summary>
    public string ClientId { get; set; } = "";

    /// <summary>The address people reach the web app at (for the redirect URI), when it differs from the request's own (a proxy in front).</summary>
    public string PublicAddress { get; set; } = "";

    /// <summary>The largest file the upload page accepts, in bytes (8 MiB by default); a larger one is refused with a message, unread.</summary>
    public long MaxUploadBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>How many uploads the process reads and judges at once (2 by default); another one meanwhile is answered 429 with Retry-After.</summary>
    public int MaxConcurrentUploads { get; set; } = 2;

    /// <summary>
    /// How many of those one account may have at once (1 by default): an upload holds a reading slot while its file arrives, so one
    /// person (or a stolen session) sending slowly cannot take every slot; another one meanwhile is answered 429 with Retry-After.
    /// How slowly a file may arrive is bounded for every request body (Http:MinRequestBodyBytesPerSecond, Http:RequestBodyTimeout).
    /// </summary>
    public int MaxConcurrentUploadsPerAccount { get; set; } = 1;
}
