using Microsoft.Net.Http.Headers;
using MirpsExchange.Catalogue.Exports;

namespace MirpsExchange.Node.Sdmx;

/// <summary>The formats a structure query answers in: SDMX-ML 2.1 Structure, SDMX-JSON structure 1.0.0 and 2.0.0.</summary>
public enum SdmxStructureFormat
{
    Xml,
    Json,
    Json2,
}

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
/// and csv, csv1, json; jsondata2 or json2 for SDMX-JSON 2.0.0; the extension's formatVersion picks a version: jsondata with 2.0.0 is
/// SDMX-JSON 2.0.0, csvdata or csvfile with 1.0.0 SDMX-CSV 1.0.0). No Accept, <c>*/*</c> or plain <c>application/xml</c>: the default,
/// generic data (structure for structure queries). Nothing acceptable: 406.
/// </summary>
public static class SdmxFormats
{
    public const string StructureMediaType = "application/vnd.sdmx.structure+xml;version=2.1";
    public const string StructureJsonMediaType = "application/vnd.sdmx.structure+json;version=1.0.0";
    public const string StructureJson2MediaType = "application/vnd.sdmx.structure+json;version=2.0.0";
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
            var version = request.Query["formatVersion"] is { Count: > 0 } asked ? asked.ToString() : null;
            return (format.ToString().ToLowerInvariant(), version) switch
            {
                ("genericdata" or "generic" or "xml", null or "2.1") => SdmxDataFormat.GenericXml,
                ("structurespecificdata" or "structurespecific", null or "2.1") => SdmxDataFormat.StructureSpecificXml,
                ("jsondata" or "json", null or "1.0.0" or "1.0") => SdmxDataFormat.Json,
                ("jsondata" or "json", "2.0.0" or "2.0") or ("jsondata2" or "json2", null) => SdmxDataFormat.Json2,
                ("csvdata" or "csvfile" or "csv", null or "2.0.0" or "2.0") or ("csv2", null) => SdmxDataFormat.Csv2,
                ("csvdata" or "csvfile" or "csv", "1.0.0" or "1.0") or ("csv1", null) => SdmxDataFormat.Csv1,
                var (other, otherVersion) => throw SdmxError.NotAcceptable(
                    $"format '{other}'{(otherVersion is null ? "" : $" version '{otherVersion}'")} is not served; ask for genericdata, structurespecificdata, jsondata (SDMX-JSON 1.0.0; formatVersion=2.0.0 for 2.0.0), csvdata (SDMX-CSV 2.0.0; formatVersion=1.0.0 for 1.0.0), jsondata2 or csv1"),
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

    /// <summary>
    /// The format of a structure message: by <c>format</c> (the SDMX REST extension's <c>structure</c> and <c>jsonstructure</c>,
    /// with its <c>formatVersion</c>; also sdmx-2.1, sdmx-json, json and their 2.0.0 forms jsonstructure2, sdmx-json2, json2), else by
    /// Accept: SDMX-ML 2.1 Structure (the default), SDMX-JSON structure 1.0.0 or 2.0.0. Nothing acceptable: 406.
    /// </summary>
    public static SdmxStructureFormat StructureFormat(HttpRequest request)
    {
        if (request.Query["format"] is { Count: > 0 } format)
        {
            var version = request.Query["formatVersion"] is { Count: > 0 } asked ? asked.ToString() : null;
            return (format.ToString().ToLowerInvariant(), version) switch
            {
                ("structure" or "sdmx-2.1" or "xml", null or "2.1") => SdmxStructureFormat.Xml,
                ("jsonstructure" or "sdmx-json" or "json" or "structure+json", null or "1.0.0" or "1.0") => SdmxStructureFormat.Json,
                ("jsonstructure" or "sdmx-json" or "json" or "structure+json", "2.0.0" or "2.0") or ("jsonstructure2" or "sdmx-json2" or "json2", null) => SdmxStructureFormat.Json2,
                var (other, otherVersion) => throw SdmxError.NotAcceptable(
                    $"format '{other}'{(otherVersion is null ? "" : $" version '{otherVersion}'")} is not served for structures; ask for structure (SDMX-ML 2.1), jsonstructure (SDMX-JSON 1.0.0) or jsonstructure with formatVersion=2.0.0 (SDMX-JSON 2.0.0)"),
            };
        }
        return Negotiate(request, type => (type.MediaType.Value?.ToLowerInvariant(), Version(type)) switch
        {
            ("application/vnd.sdmx.structure+xml", null or "2.1") => SdmxStructureFormat.Xml,
            ("application/vnd.sdmx.structure+json", null or "1.0.0" or "1.0") => SdmxStructureFormat.Json,
            ("application/vnd.sdmx.structure+json", "2.0.0" or "2.0") => SdmxStructureFormat.Json2,
            ("application/json", _) => SdmxStructureFormat.Json,
            ("application/xml" or "text/xml" or "application/*" or "*/*", _) => SdmxStructureFormat.Xml,
            _ => (SdmxStructureFormat?)null,
        }, SdmxStructureFormat.Xml, $"structures are served as {StructureMediaType} (the default), {StructureJsonMediaType} or {StructureJson2MediaType}");
    }

    public static string MediaType(SdmxStructureFormat format) => format switch
    {
        SdmxStructureFormat.Json => StructureJsonMediaType,
        SdmxStructureFormat.Json2 => StructureJson2MediaType,
        _ => StructureMediaType,
    };

    /// <summary>
    /// The languages of a message's localised texts, best first, among the catalogue's (<see cref="SdmxStructure.Languages"/>): by the
    /// <c>lang</c> query parameter (the SDMX REST extension: that language alone, or <c>all</c>; one not served is 406), else by Accept-Language
    /// (RFC 4647 lookup by primary subtag: es-MX asks for es; <c>*</c> for the rest). No preference, or none served: all, English first.
    /// </summary>
    public static IReadOnlyList<string> Languages(HttpRequest request)
    {
        if (request.Query["lang"] is { Count: > 0 } lang)
        {
            var asked = lang.ToString().ToLowerInvariant();
            if (asked == "all")
            {
                return SdmxStructure.Languages;
            }
            var primary = asked.Split('-')[0];
            return SdmxStructure.Languages.Contains(primary)
                ? [primary]
                : throw SdmxError.NotAcceptable($"lang '{lang}' is not served: the catalogue's texts are in {string.Join(" and ", SdmxStructure.Languages)} (or all)");
        }
        if (!StringWithQualityHeaderValue.TryParseList(request.Headers.AcceptLanguage, out var ranges))
        {
            return SdmxStructure.Languages;
        }
        var chosen = new List<string>();
        foreach (var range in ranges.Where(r => (r.Quality ?? 1) > 0).OrderByDescending(r => r.Quality ?? 1))
        {
            var tag = range.Value.Value?.ToLowerInvariant() ?? "";
            var matches = tag == "*" ? SdmxStructure.Languages : SdmxStructure.Languages.Where(l => l == tag.Split('-')[0]);
            chosen.AddRange(matches.Where(l => !chosen.Contains(l)));
        }
        return chosen.Count > 0 ? chosen : SdmxStructure.Languages;
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
