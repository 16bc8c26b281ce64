using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.StaticFiles;

namespace MirpsExchange.Web;

/// <summary>
/// The web app's files (its stylesheet and scripts, and the chart library's script taken from its NuGet
/// package at build time) embedded in this assembly and served from memory under /web-assets/, each URL
/// versioned by its content hash so browsers may cache it for a year. No static web assets manifest is
/// needed, so the node, the Secretariat, the tests and the packed tool serve the same bytes.
/// </summary>
public static class WebAssets
{
    public const string Prefix = "/web-assets/";

    private sealed record Asset(byte[] Content, string ContentType, string Hash);

    private static readonly FrozenDictionary<string, Asset> Assets = Load();

    private static FrozenDictionary<string, Asset> Load()
    {
        var assembly = typeof(WebAssets).Assembly;
        var types = new FileExtensionContentTypeProvider();
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith("wwwroot/", StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            var bytes = memory.ToArray();
            var file = name["wwwroot/".Length..];
            var type = types.TryGetContentType(file, out var known) ? known : "application/octet-stream";
            if (type.StartsWith("text/", StringComparison.Ordinal) || type.EndsWith("javascript", StringComparison.Ordinal))
            {
                type += "; charset=utf-8";
            }
            assets[file] = new Asset(bytes, type, Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]);
        }
        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The versioned URL of an embedded file, for example /web-assets/app.css?v=0123456789abcdef.</summary>
    public static string Path(string file) => Assets.TryGetValue(file, out var asset)
        ? $"{Prefix}{file}?v={asset.Hash}"
        : throw new KeyNotFoundException($"No embedded web asset '{file}'.");

    public static IEndpointRouteBuilder MapWebAssets(this IEndpointRouteBuilder app)
    {
        app.MapGet(Prefix + "{*file}", (HttpContext http, string file) =>
        {
            if (!Assets.TryGetValue(file, out var asset))
            {
                return Results.NotFound();
            }
            http.Response.Headers.CacheControl = "public, max-age=31536000, immutable";
            http.Response.Headers.XContentTypeOptions = "nosniff";
            return Results.Bytes(asset.Content, asset.ContentType, entityTag: new Microsoft.Net.Http.Headers.EntityTagHeaderValue($"\"{asset.Hash}\""));
        }).AllowAnonymous();
        return app;
    }
}
