using Grpc.Core;
using Mirps.Observation.V1;
using MirpsExchange.FunctionalTests.Infrastructure;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// A node whose disk is full (Node:StoreMaxPageCount, as the chaos harness fills it): a national system is told so with
/// RESOURCE_EXHAUSTED (STORE_FULL), nothing is written, reads go on; once there is room again the same request goes in.
/// </summary>
public class StoreFullTests
{
    [Fact]
    public async Task A_submit_to_a_node_whose_disk_is_full_is_refused_as_resource_exhausted_and_goes_in_once_there_is_room()
    {
        var folder = TempFolder.Create();
        try
        {
            var store = Path.Combine(folder, "node-blz.db");
            await using (var first = await TestNode.StartAsync("BLZ", null, Samples.ShareWithAll))
            {
                await first.Observations.SubmitObservationsAsync(Refugees(1990, 1));
                first.CopyStoreTo(store);
            }
            // 30 years of months by sex: the store must grow by many pages, and may not.
            var request = Refugees(1990, 30);
            request.RequestId = "store-full-1";
            await using (var full = await TestNode.StartOnStoreAsync(store, "BLZ", null, Samples.ShareWithAll, "--Node:StoreMaxPageCount=1"))
            {
                var held = full.CountRows();
                await RpcAssert.ReasonAsync(() => full.Observations.SubmitObservationsAsync(request).ResponseAsync, StatusCode.ResourceExhausted, "STORE_FULL");
                Assert.Equal(held, full.CountRows());
                Assert.Equal(held, (await full.QueryAsync()).Count); // reads go on
                full.CopyStoreTo(Path.Combine(folder, "after.db"));
            }
            await using var roomy = await TestNode.StartOnStoreAsync(Path.Combine(folder, "after.db"), "BLZ", null, Samples.ShareWithAll);
            var response = await roomy.Observations.SubmitObservationsAsync(request); // the same request id: it was never stored
            Assert.False(response.Replayed);
            Assert.Equal(request.Observations.Count - 36, response.Inserted); // the first year's 36 were there already
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    /// <summary>REFUGEES of Belize by month and sex (F + M = _T) for <paramref name="years"/> years from <paramref name="from"/>.</summary>
    private static SubmitObservationsRequest Refugees(int from, int years)
    {
        var request = new SubmitObservationsRequest();
        for (var year = from; year < from + years; year++)
        {
            for (var month = 1; month <= 12; month++)
            {
                foreach (var (sex, value) in new[] { ("F", 10.0 + month), ("M", 20.0 + month), ("_T", 30.0 + 2 * month) })
                {
                    request.Observations.Add(new Observation
                    {
                        IndicatorCode = "REFUGEES", Country = "BLZ", Period = $"{year}-{month:D2}", Sex = sex, Age = "_T", CountryOfOrigin = "_T",
                        Value = value, Status = ObservationStatus.Normal,
                    });
                }
            }
        }
        return request;
    }
}
