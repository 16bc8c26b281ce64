using MirpsExchange.FunctionalTests.Infrastructure;

namespace MirpsExchange.FunctionalTests;

public class SmokeTests
{
    [Fact]
    public async Task Node_accepts_a_submission_and_streams_it_back()
    {
        await using var node = await TestNode.StartAsync();
        var response = await node.Observations.SubmitObservationsAsync(Samples.Submit(Samples.Refugees()));
        Assert.Equal(1, response.Inserted);
    }
}
