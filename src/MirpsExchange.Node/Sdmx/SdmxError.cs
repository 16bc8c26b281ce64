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

    /// <summary>Writes the error as the response: its status and an SDMX-ML 2.1 Error message.</summary>
    public async Task WriteAsync(HttpContext context)
    {
        context.Response.StatusCode = Status;
        context.Response.ContentType = "application/xml; charset=utf-8";
        if (Status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }
        using var buffer = new MemoryStream();
        using (var xml = XmlWriter.Create(buffer, new XmlWriterSettings { Encoding = ExportWriter.Utf8, Indent = true, CloseOutput = false }))
        {
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
        await context.Response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), context.RequestAborted);
    }
}
