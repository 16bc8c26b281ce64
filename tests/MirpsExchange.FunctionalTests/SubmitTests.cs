using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Mirps.Observation.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

public class SubmitTests
{
    [Fact]
    public async Task A_new_key_is_inserted_and_served_back_with_its_system_fields()
    {
        await using var node = await TestNode.StartAsync();
        var observation = Refugees(value: 240);
        observation.Note = "Ministry of Immigration";

        var response = await node.Observations.SubmitObservationsAsync(Submit(observation, Refugees(sex: "F", value: 128)));

        Assert.Equal((2, 0, 0), (response.Inserted, response.Revised, response.Unchanged));
        Assert.Equal(2, response.LastOriginSequence);
        var stored = await node.QueryAsync();
        Assert.Equal(2, stored.Count);
        var total = Assert.Single(stored, s => s.Observation.Sex == "_T");
        Assert.Equal(observation, total.Observation);
        Assert.Equal(1, total.Revision);
        Assert.Equal("BLZ", total.Origin);
        Assert.InRange(total.RecordedTime.ToDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.Equal([1L, 2L], stored.Select(s => s.OriginSequence).Order());
    }

    [Fact]
    public async Task A_changed_value_makes_a_new_revision_and_keeps_the_history()
    {
        await using var node = await TestNode.StartAsync();
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 230)));

        var response = await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));

        Assert.Equal((0, 1, 0), (response.Inserted, response.Revised, response.Unchanged));
        var current = Assert.Single(await node.QueryAsync());
        Assert.Equal(240, current.Observation.Value);
        Assert.Equal(2, current.Revision);
        var history = await node.Observations.GetObservationHistoryAsync(new GetObservationHistoryRequest { Key = KeyOf(Refugees()) });
        Assert.Equal([230d, 240d], history.Revisions.Select(r => r.Observation.Value));
        Assert.Equal([1L, 2L], history.Revisions.Select(r => r.Revision));
        Assert.True(history.Revisions[0].RecordedTime.ToDateTimeOffset() < history.Revisions[1].RecordedTime.ToDateTimeOffset());
    }

    [Fact]
    public async Task A_changed_status_or_note_is_a_revision_too()
    {
        await using var node = await TestNode.StartAsync();
        await node.Observations.SubmitObservationsAsync(Submit(Refugees()));
        var provisional = Refugees();
        provisional.Status = ObservationStatus.Provisional;
        var noted = Refugees();
        noted.Note = "corrected source";

        var first = await node.Observations.SubmitObservationsAsync(Submit(provisional));
        var second = await node.Observations.SubmitObservationsAsync(Submit(noted));

        Assert.Equal(1, first.Revised);
        Assert.Equal(1, second.Revised);
        Assert.Equal(3, Assert.Single(await node.QueryAsync()).Revision);
    }

    [Fact]
    public async Task Resubmitting_identical_values_changes_nothing()
    {
        await using var node = await TestNode.StartAsync();
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(), Refugees(sex: "F", value: 128)));

        var response = await node.Observations.SubmitObservationsAsync(Submit(Refugees(), Refugees(sex: "F", value: 128)));

        Assert.Equal((0, 0, 2), (response.Inserted, response.Revised, response.Unchanged));
        Assert.Equal(2, response.LastOriginSequence);
        Assert.Equal(2, node.CountRows());
    }

    [Fact]
    public async Task A_retried_request_id_returns_the_first_answer_and_writes_nothing_again()
    {
        await using var node = await TestNode.StartAsync();
        var request = Submit(Refugees(value: 240));
        request.RequestId = "9b3c7a52-retry";
        var first = await node.Observations.SubmitObservationsAsync(request);
        // Meanwhile the value changes through another call; a retry of the first must not undo that.
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 250)));

        var retry = await node.Observations.SubmitObservationsAsync(request);

        Assert.False(first.Replayed);
        Assert.True(retry.Replayed);
        Assert.Equal((first.Inserted, first.Revised, first.Unchanged, first.LastOriginSequence), (retry.Inserted, retry.Revised, retry.Unchanged, retry.LastOriginSequence));
        Assert.Equal(2, node.CountRows());
        Assert.Equal(250, Assert.Single(await node.QueryAsync()).Observation.Value);
    }

    [Fact]
    public async Task A_request_id_reused_for_other_content_is_refused_and_nothing_is_stored()
    {
        await using var node = await TestNode.StartAsync();
        var request = Submit(Refugees(value: 240));
        request.RequestId = "reused";
        await node.Observations.SubmitObservationsAsync(request);
        var other = Submit(Refugees(value: 999), Refugees(sex: "M", value: 1));
        other.RequestId = "reused";

        var info = await RpcAssert.ReasonAsync(() => node.Observations.SubmitObservationsAsync(other).ResponseAsync, StatusCode.AlreadyExists, "REQUEST_ID_REUSED");

        Assert.Equal("reused", info.Metadata["request_id"]);
        Assert.Equal(1, node.CountRows());
        Assert.Equal(240, Assert.Single(await node.QueryAsync()).Observation.Value);
    }

    [Fact]
    public async Task A_request_id_is_forgotten_after_the_retention_period()
    {
        await using var node = await TestNode.StartAsync();
        var request = Submit(Refugees(value: 240));
        request.RequestId = "old-id";
        await node.Observations.SubmitObservationsAsync(request);
        var eightDaysAgo = DateTimeOffset.UtcNow.AddDays(-8).ToUnixTimeMilliseconds() * 1000;
        node.Execute($"UPDATE requests SET recorded_time = {eightDaysAgo} WHERE request_id = 'old-id'");
        var reused = Submit(Refugees(value: 250));
        reused.RequestId = "old-id";

        var response = await node.Observations.SubmitObservationsAsync(reused);

        Assert.False(response.Replayed);
        Assert.Equal(1, response.Revised);
        Assert.Equal(1, node.CountRows("requests"));
    }

    [Fact]
    public async Task A_batch_with_one_bad_row_writes_nothing_even_when_other_rows_change_values()
    {
        await using var node = await TestNode.StartAsync();
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));
        var bad = Refugees(sex: "F");
        bad.Value = -1;

        await RpcAssert.InvalidArgumentAsync(() => node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 300), Refugees(sex: "M", value: 5), bad)).ResponseAsync,
            "observations[2].value");

        Assert.Equal(1, node.CountRows());
        Assert.Equal(240, Assert.Single(await node.QueryAsync()).Observation.Value);
    }

    [Fact]
    public async Task Concurrent_submissions_get_distinct_gapless_sequence_numbers()
    {
        await using var node = await TestNode.StartAsync();
        var calls = Enumerable.Range(0, 8).Select(i =>
            node.Observations.SubmitObservationsAsync(Submit(Refugees(period: $"{2010 + i}"), Refugees(period: $"{2010 + i}", sex: "F"))).ResponseAsync);

        await Task.WhenAll(calls);

        var sequences = (await node.QueryAsync()).Select(s => s.OriginSequence).Order().ToList();
        Assert.Equal(Enumerable.Range(1, 16).Select(i => (long)i), sequences);
    }

    [Fact]
    public async Task SubmitObservations_is_served_with_the_pooled_request_decoder_on_every_route()
    {
        await using var node = await TestNode.StartAsync();
        var endpoints = node.Services.GetRequiredService<EndpointDataSource>().Endpoints;
        // Each route of a method (gRPC's, and HTTP/JSON transcoding's) carries the method it was bound with.
        List<object> Bound(string name) =>
            [.. endpoints.Select(e => e.Metadata.GetMetadata<GrpcMethodMetadata>()?.Method).OfType<IMethod>()
                .Where(m => m.FullName == $"/{ObservationService.Descriptor.FullName}/{name}")];

        var submit = Bound("SubmitObservations");

        Assert.NotEmpty(submit);
        Assert.All(submit, m => Assert.Same(MirpsExchange.Node.Grpc.SubmitRequestDecoder.Method, m));
        // Decoded by it, a submit is written and served back whole (note and catalogue 2.0 fields included).
        var observation = Refugees(value: 240);
        observation.Note = "Ministerio de Inmigración";
        Assert.Equal(1, (await node.Observations.SubmitObservationsAsync(Submit(observation))).Inserted);
        Assert.Equal(observation, Assert.Single(await node.QueryAsync()).Observation);
    }
}
