using Microsoft.Net.Http.Headers;

namespace MirpsExchange.Node.Sdmx;

/// <summary>The formats a data query answers in.</summary>
public enum SdmxDataFormat
{
    GenericXml,
    StructureSpecificXml,
    Json,
    Json2,
    Csv1,
    Csv2,
}

/// <summary>
/// Content negotiation as SDMX REST 2.1 describes it: the Accept header (media types with their version parameter, by quality),
/// or the <c>format</c> query parameter as a convenience (.Stat's names: genericdata, structurespecificdata, jsondata, csvfile;
/// and csv, csv1, json; jsondata2 or json2 for SDMX-JSON 2.0.0). No Accept, <c>*/*</c> or plain <c>application/xml</c>: the default, generic data (structure for
/// structure queries). Nothing acceptable: 406.
/// </summary>
public static class SdmxFormats
{
    public const string StructureMediaType = "application/vnd.sdmx.structure+xml;version=2.1";
    public const string GenericMediaType = "application/vnd.sdmx.genericdata+xml;version=2.1";
    public const string StructureSpecificMediaType = "application/vnd.sdmx.structurespecificdata+xml;version=2.1";
    public const string JsonMediaType = "application/vnd.sdmx.data+json;version=1.0.0";
    public const string Json2MediaType = "application/vnd.sdmx.data+json;version=2.0.0";
    public const string Csv1MediaType = "application/vnd.sdmx.data+csv;version=1.0.0";
    public const string Csv2MediaType = "application/vnd.sdmx.data+csv;version=2.0.0";

    public static string MediaType(SdmxDataFormat format) => format switch
    {
        SdmxDataFormat.GenericXml => GenericMediaType,
        SdmxDataFormat.StructureSpecificXml => StructureSpecificMediaType,
        SdmxDataFormat.Json => JsonMediaType,
        SdmxDataFormat.Json2 => Json2MediaType,
        SdmxDataFormat.Csv1 => Csv1MediaType,
        _ => Csv2MediaType,
    };

    public static SdmxDataFormat DataFormat(HttpRequest request)
    {
        if (request.Query["format"] is { Count: > 0 } format)
        {
            return format.ToString().ToLowerInvariant() switch
            {
                "genericdata" or "generic" or "xml" => SdmxDataFormat.GenericXml,
                "structurespecificdata" or "structurespecific" => SdmxDataFormat.StructureSpecificXml,
                "jsondata" or "json" => SdmxDataFormat.Json,
                "jsondata2" or "json2" => SdmxDataFormat.Json2,
                "csvfile" or "csv" or "csv2" => SdmxDataFormat.Csv2,
                "csv1" => SdmxDataFormat.Csv1,
                var other => throw SdmxError.NotAcceptable(
                    $"format '{other}' is not served; ask for genericdata, structurespecificdata, jsondata (SDMX-JSON 1.0.0), jsondata2 (SDMX-JSON 2.0.0), csvfile (SDMX-CSV 2.0.0) or csv1 (SDMX-CSV 1.0.0)"),
            };
        }
        return Negotiate(request, type => (type.MediaType.Value?.ToLowerInvariant(), Version(type)) switch
        {
            ("application/vnd.sdmx.genericdata+xml", null or "2.1") => SdmxDataFormat.GenericXml,
            ("application/vnd.sdmx.structurespecificdata+xml", null or "2.1") => SdmxDataFormat.StructureSpecificXml,
            ("application/vnd.sdmx.data+json", null or "1.0.0" or "1.0") => SdmxDataFormat.Json,
            ("application/vnd.sdmx.data+json", "2.0.0" or "2.0") => SdmxDataFormat.Json2,
            ("application/json", _) => SdmxDataFormat.Json,
            ("application/vnd.sdmx.data+csv", "1.0.0" or "1.0") => SdmxDataFormat.Csv1,
            ("application/vnd.sdmx.data+csv", null or "2.0.0" or "2.0") => SdmxDataFormat.Csv2,
            ("text/csv", _) => SdmxDataFormat.Csv2,
            ("application/xml" or "text/xml" or "application/*" or "*/*", _) => SdmxDataFormat.GenericXml,
            _ => (SdmxDataFormat?)null,
        }, SdmxDataFormat.GenericXml,
            $"data are served as {GenericMediaType} (the default), {StructureSpecificMediaType}, {JsonMediaType}, {Json2MediaType}, {Csv2MediaType} or {Csv1MediaType}");
    }

    /// <summary>Whether a data format is SDMX-JSON (1.0.0 or 2.0.0): series are objects keyed by position, so the answer is built in memory.</summary>
    public static bool IsJson(SdmxDataFormat format) => format is SdmxDataFormat.Json or SdmxDataFormat.Json2;

    /// <summary>Structure queries answer in SDMX-ML 2.1 Structure only (no SDMX-JSON structure message, 1.0 nor 2.0); anything else is 406.</summary>
    public static void RequireStructureXml(HttpRequest request)
    {
        if (request.Query["format"] is { Count: > 0 } format && !string.Equals(format, "sdmx-2.1", StringComparison.OrdinalIgnoreCase)
            && !string.Equals(format, "structure", StringComparison.OrdinalIgnoreCase))
        {
            throw SdmxError.NotAcceptable($"format '{format}' is not served for structures; they are {StructureMediaType} only");
        }
        Negotiate(request, type => (type.MediaType.Value?.ToLowerInvariant(), Version(type)) switch
        {
            ("application/vnd.sdmx.structure+xml", null or "2.1") => true,
            ("application/xml" or "text/xml" or "application/*" or "*/*", _) => true,
            _ => (bool?)null,
        }, true, $"structures are served as {StructureMediaType} only");
    }

    private static T Negotiate<T>(HttpRequest request, Func<MediaTypeHeaderValue, T?> match, T fallback, string offered) where T : struct
    {
        if (!request.Headers.Accept.Any(a => !string.IsNullOrWhiteSpace(a)))
        {
            return fallback;
        }
        if (!MediaTypeHeaderValue.TryParseList(request.Headers.Accept, out var types))
        {
            throw SdmxError.NotAcceptable($"the Accept header '{request.Headers.Accept}' cannot be read; {offered}");
        }
        foreach (var type in types.Where(t => (t.Quality ?? 1) > 0).OrderByDescending(t => t.Quality ?? 1))
        {
            if (match(type) is { } found)
            {
                return found;
            }
        }
        throw SdmxError.NotAcceptable($"nothing the Accept header '{request.Headers.Accept}' names is served: {offered}");
    }

    private static string? Version(MediaTypeHeaderValue type) =>
        type.Parameters.FirstOrDefault(p => p.Name.Equals("version", StringComparison.OrdinalIgnoreCase))?.Value.Value?.Trim('"');
}
