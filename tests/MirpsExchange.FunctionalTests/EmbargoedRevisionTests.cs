using System.Globalization;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Mirps.Observation.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;
using static MirpsExchange.FunctionalTests.SdmxRestTests;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// A released figure revised under embargo: what another State or the Secretariat may infer from the origin's answers
/// before the release time. They keep the revision they could read before, in every answer (now, as of any time,
/// histories, SDMX) alike, so no answer differs from one given before the embargoed revision existed.
/// </summary>
public class EmbargoedRevisionTests
{
    [Fact]
    public async Task An_embargoed_revision_of_a_released_figure_cannot_be_detected_in_current_as_of_history_or_SDMX_answers()
    {
        var store = Path.Combine(Path.GetTempPath(), $"mirps-embargo-{Guid.NewGuid():N}.db");
        DateTimeOffset before;
        try
        {
            // Belize releases 240 refugees for 2023 (no embargo), then restarts with an embargo on REFUGEES until tomorrow.
            await using (var released = await TestNode.StartAsync("BLZ", null, SharingPolicyTests.Policy(("Default", "Readers", "all"))))
            {
                await released.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240), SharingPolicyTests.Applications(value: 100)));
                released.CopyStoreTo(store);
            }
            await using var belize = await TestNode.StartOnStoreAsync(store, "BLZ", null,
                [HttpPort, .. SharingPolicyTests.Policy(("Default", "Readers", "all"), ("REFUGEES", "ReleaseTime", DateTimeOffset.UtcNow.AddDays(1).ToString("O")))]);
            await Task.Delay(20);
            before = DateTimeOffset.UtcNow;
            await Task.Delay(20);
            // The revision under embargo: 300, and a new key under embargo too.
            await belize.Observations.SubmitObservationsAsync(Submit(Refugees(value: 300), Refugees(sex: "F", value: 150)));
            var after = DateTimeOffset.UtcNow;

            foreach (var reader in new[] { "CRI", "" })
            {
                var token = await TokenAsync(belize, reader);
                var now = (await GrpcAsync(belize, token)).Select(Expected).ToList();
                var then = (await GrpcAsync(belize, token, new StreamObservationsRequest { AsOfTime = Timestamp.FromDateTimeOffset(before) })).Select(Expected).ToList();
                var sinceEmbargo = (await GrpcAsync(belize, token, new StreamObservationsRequest { AsOfTime = Timestamp.FromDateTimeOffset(after) })).Select(Expected).ToList();
                // What the reader read before the embargoed revisions existed, and reads now, and as of any time: the released 240.
                Assert.Equal(2, then.Count);
                Assert.Contains(then, line => line.StartsWith("REFUGEES.BLZ._T.", StringComparison.Ordinal) && line.Contains(".2023=240|", StringComparison.Ordinal));
                Assert.Equal(then, now);
                Assert.Equal(then, sinceEmbargo);
                // SDMX, now and as of either time, answers the same.
                foreach (var query in new[] { "", $"?asOf={Uri.EscapeDataString(before.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture))}",
                    $"?asOf={Uri.EscapeDataString(after.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture))}" })
                {
                    Assert.Equal(then.Order(StringComparer.Ordinal), ReadGeneric((await GetAsync(belize, "/sdmx/rest/data/DF_MIRPS_PROTECTION/all" + query, token)).Body).Order(StringComparer.Ordinal));
                }
                // The history shows the released revision only; the new key under embargo is not found, as a key never written.
                var history = await belize.ObservationsWith(token).GetObservationHistoryAsync(new GetObservationHistoryRequest { Key = KeyOf(Refugees()) });
                Assert.Equal([240.0], history.Revisions.Select(r => r.Observation.Value));
                var unknown = await Assert.ThrowsAsync<RpcException>(async () =>
                    await belize.ObservationsWith(token).GetObservationHistoryAsync(new GetObservationHistoryRequest { Key = KeyOf(Refugees(sex: "F")) }));
                Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
            }

            // The owner reads its new figures at once.
            var own = await GrpcAsync(belize, await TokenAsync(belize, "BLZ"), new StreamObservationsRequest { IndicatorCodes = { "REFUGEES" } });
            Assert.Equal([150.0, 300.0], own.Select(o => o.Observation.Value).Order());
        }
        finally
        {
            File.Delete(store);
        }
    }
}
