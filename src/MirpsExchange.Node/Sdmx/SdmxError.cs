using System.Xml;
using MirpsExchange.Catalogue.Exports;

namespace MirpsExchange.Node.Sdmx;

/// <summary>
/// A refused SDMX REST query: the HTTP status and the SDMX error code of the SDMX REST 2.1 specification (sdmx-twg/sdmx-rest v1.5.0,
/// "Error handling"): 100 no results found (404), 110 unauthorized (401; 403 when the token is valid but may not read), 140 syntax
/// error (400), 150 semantic error (403), 406 not acceptable (no SDMX code: 1000), 501 not implemented, 510 response size exceeds
/// the service limit (413), 503 service unavailable (429: too many answers in progress for the caller's party). The body is an SDMX-ML 2.1 Error message.
/// </summary>
public sealed class SdmxError(int status, int code, string message) : Exception(message)
{
    public int Status => status;

    public int Code => code;

    public static SdmxError NoResults(string message) => new(StatusCodes.Status404NotFound, 100, message);

    public static SdmxError Unauthorized(string message) => new(StatusCodes.Status401Unauthorized, 110, message);

    public static SdmxError Forbidden(string message) => new(StatusCodes.Status403Forbidden, 110, message);

    public static SdmxError Syntax(string message) => new(StatusCodes.Status400BadRequest, 140, message);

    public static SdmxError NotAcceptable(string message) => new(StatusCodes.Status406NotAcceptable, 1000, message);

    public static SdmxError NotImplemented(string message) => new(StatusCodes.Status501NotImplemented, 501, message);

    public static SdmxError TooLarge(string message) => new(StatusCodes.Status413PayloadTooLarge, 510, message);

    /// <summary>Too many answers in progress for the caller's party: 429, SDMX 503 (service unavailable), to be asked again later.</summary>
    public static SdmxError TooManyRequests(string message) => new(StatusCodes.Status429TooManyRequests, 503, message);

    /// <summary>What kind of SDMX-JSON message the client asked for, to answer a refusal in it: none (SDMX-ML), a data or a structure message, and its version.</summary>
    public readonly record struct JsonAsked(bool Data, SdmxJsonVersion Version);

    /// <summary>
    /// Writes the error as the response: its status and an SDMX-ML 2.1 Error message, or, when the client asked for SDMX-JSON
    /// (<paramref name="json"/>), an SDMX-JSON message of the same kind and version holding only <c>errors</c> (field guides, message and
    /// error: data and errors never together; 1.0.0 data messages name their header <c>header</c>, the others <c>meta</c>).
    /// </summary>
    public async Task WriteAsync(HttpContext context, JsonAsked? json = null)
    {
        context.Response.StatusCode = Status;
        if (Status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }
        using var buffer = new MemoryStream();
        if (json is { } asked)
        {
            context.Response.ContentType = (asked.Data
                ? asked.Version == SdmxJsonVersion.V2 ? SdmxFormats.Json2MediaType : SdmxFormats.JsonMediaType
                : asked.Version == SdmxJsonVersion.V2 ? SdmxFormats.StructureJson2MediaType : SdmxFormats.StructureJsonMediaType) + "; charset=utf-8";
            WriteJson(buffer, asked, context.TraceIdentifier, context.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow());
        }
        else
        {
            context.Response.ContentType = "application/xml; charset=utf-8";
            WriteXml(buffer);
        }
        await context.Response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), context.RequestAborted);
    }

    private void WriteXml(Stream buffer)
    {
        using var xml = XmlWriter.Create(buffer, new XmlWriterSettings { Encoding = ExportWriter.Utf8, Indent = true, CloseOutput = false });
        xml.WriteStartDocument();
        xml.WriteStartElement("mes", "Error", SdmxStructure.MessageNamespace);
        xml.WriteAttributeString("xmlns", "com", null, SdmxStructure.CommonNamespace);
        xml.WriteStartElement("ErrorMessage", SdmxStructure.MessageNamespace);
        xml.WriteAttributeString("code", Code.ToString(System.Globalization.CultureInfo.InvariantCulture));
        xml.WriteStartElement("com", "Text", SdmxStructure.CommonNamespace);
        xml.WriteAttributeString("xml", "lang", null, "en");
        xml.WriteString(Message);
        xml.WriteEndElement();
        xml.WriteEndElement();
        xml.WriteEndElement();
        xml.WriteEndDocument();
    }

    private void WriteJson(Stream buffer, JsonAsked asked, string traceId, DateTimeOffset prepared)
    {
        using var json = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject(asked.Data && asked.Version == SdmxJsonVersion.V1 ? "header" : "meta");
        // An SDMX id: letters, digits, _, @, $ or - (the request's trace id has colons).
        json.WriteString("id", "ERR-" + new string([.. traceId.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-')]));
        json.WriteBoolean("test", false);
        json.WriteString("prepared", prepared.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture));
        if (!(asked.Data && asked.Version == SdmxJsonVersion.V1))
        {
            json.WriteStartArray("contentLanguages");
            json.WriteStringValue("en");
            json.WriteEndArray();
        }
        json.WriteStartObject("sender");
        json.WriteString("id", SdmxStructure.Agency);
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteStartArray("errors");
        json.WriteStartObject();
        json.WriteNumber("code", Code);
        json.WriteString("title", Message);
        json.WriteStartObject("titles");
        json.WriteString("en", Message);
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
    }
}
