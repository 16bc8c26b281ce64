using System.Net;
using System.Text.Json;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.SdmxRestTests;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// A refused SDMX REST query whose client asked for SDMX-JSON (by Accept or by format=) is answered with an SDMX-JSON message holding
/// only its errors, of the kind and version asked (structure or data, 1.0.0 or 2.0.0), with the HTTP status and the SDMX error code
/// SDMX-ML would carry; a client that did not ask for SDMX-JSON still gets an SDMX-ML Error message.
/// </summary>
public class SdmxJsonErrorTests
{
    private const string DataJson1 = "application/vnd.sdmx.data+json;version=1.0.0";

    [Fact]
    public async Task Structure_and_data_refusals_are_SDMX_JSON_messages_when_SDMX_JSON_was_asked_for_with_the_same_status_and_code()
    {
        await using var node = await TestNode.StartAsync("BLZ", null, HttpPort);
        var token = await TokenAsync(node, "BLZ");
        var cases = new (string Path, string? Token, string? Accept, HttpStatusCode Status, int Code, string Type)[]
        {
            // Structure queries: an unknown dataflow, a bad reference, a language not served, no token.
            ("/sdmx/rest/dataflow/MIRPS/DF_OTHER/latest", token, SdmxJsonStructureTests.Json1, HttpStatusCode.NotFound, 100, SdmxJsonStructureTests.Json1),
            ("/sdmx/rest/dataflow/MIRPS/all/latest?references=cousins&format=jsonstructure&formatVersion=2.0.0", token, null, HttpStatusCode.BadRequest, 140, SdmxJsonStructureTests.Json2),
            ("/sdmx/rest/dataflow/MIRPS/DF_MIRPS_PROTECTION/latest?lang=fr", token, SdmxJsonStructureTests.Json2, HttpStatusCode.NotAcceptable, 1000, SdmxJsonStructureTests.Json2),
            ("/sdmx/rest/dataflow/MIRPS/DF_MIRPS_PROTECTION/latest", null, "application/json", HttpStatusCode.Unauthorized, 110, SdmxJsonStructureTests.Json1),
            // Data queries: an unknown dataflow, nothing stored yet, no token.
            ("/sdmx/rest/data/DF_UNKNOWN/all", token, SdmxJson2Tests.Json2, HttpStatusCode.NotFound, 100, SdmxJson2Tests.Json2),
            ("/sdmx/rest/data/DF_MIRPS_PROTECTION/all?format=jsondata", token, null, HttpStatusCode.NotFound, 100, DataJson1),
            ("/sdmx/rest/data/DF_MIRPS_PROTECTION/all?format=jsondata&formatVersion=2.0.0", null, null, HttpStatusCode.Unauthorized, 110, SdmxJson2Tests.Json2),
        };
        foreach (var (path, caller, accept, status, code, type) in cases)
        {
            var answer = await GetAsync(node, path, caller, accept);
            Assert.True((status, type) == (answer.Status, answer.Type), $"{path}: {answer.Status} {answer.Type}: {answer.Body}");
            using var message = JsonDocument.Parse(answer.Body);
            var error = Assert.Single(message.RootElement.GetProperty("errors").EnumerateArray());
            Assert.Equal(code, error.GetProperty("code").GetInt32());
            Assert.False(message.RootElement.TryGetProperty("data", out _));
            if (type == SdmxJson2Tests.Json2)
            {
                SdmxJson2Tests.AssertValid(answer.Body);
            }
            else if (type == DataJson1)
            {
                Assert.Equal("MIRPS", message.RootElement.GetProperty("header").GetProperty("sender").GetProperty("id").GetString());
            }
            else
            {
                SdmxJsonStructureTests.AssertValid(answer.Body, type);
            }
            if (status == HttpStatusCode.Unauthorized)
            {
                Assert.Equal("Bearer", answer.Response.Headers.WwwAuthenticate.ToString());
            }
        }

        // Without SDMX-JSON asked for, the same refusals stay SDMX-ML.
        foreach (var path in new[] { "/sdmx/rest/dataflow/MIRPS/DF_OTHER/latest", "/sdmx/rest/data/DF_UNKNOWN/all" })
        {
            var answer = await GetAsync(node, path, token);
            Assert.Equal((HttpStatusCode.NotFound, "application/xml"), (answer.Status, answer.Type));
            Assert.Equal("100", ErrorCode(answer.Body));
        }
    }
}
