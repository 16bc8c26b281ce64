using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.EntityFrameworkCore;
using Mirps.Observation.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Node.Store;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

public class QueryTests
{
    [Fact]
    public async Task Streams_filter_by_indicator_period_range_and_dimensions()
    {
        await using var node = await TestNode.StartAsync();
        var applications = Refugees(period: "2023-Q2");
        applications.IndicatorCode = "ASYLUM_APPLICATIONS";
        await node.Observations.SubmitObservationsAsync(Submit(
            Refugees(period: "2022"), Refugees(period: "2023"), Refugees(period: "2023-Q2"), Refugees(period: "2023-07"),
            Refugees(period: "2023-Q2", sex: "F"), Refugees(period: "2024-Q1"), applications));

        async Task<List<string>> Keys(StreamObservationsRequest request) =>
            [.. (await node.QueryAsync(request)).Select(s => $"{s.Observation.IndicatorCode}/{s.Observation.Period}/{s.Observation.Sex}")];

        Assert.Equal(["REFUGEES/2023-07/_T", "REFUGEES/2023-Q2/F", "REFUGEES/2023-Q2/_T"],
            await Keys(new StreamObservationsRequest { IndicatorCodes = { "REFUGEES" }, PeriodFrom = "2023-Q2", PeriodTo = "2023" }));
        Assert.Equal(["REFUGEES/2023-Q2/F"], await Keys(new StreamObservationsRequest { Sexes = { "F" } }));
        Assert.Equal(["ASYLUM_APPLICATIONS/2023-Q2/_T"], await Keys(new StreamObservationsRequest { IndicatorCodes = { "ASYLUM_APPLICATIONS" } }));
        Assert.Equal(["REFUGEES/2022/_T"], await Keys(new StreamObservationsRequest { PeriodTo = "2022-12" }));
        Assert.Empty(await Keys(new StreamObservationsRequest { Countries = { "CRI" } }));
        Assert.Equal(7, (await Keys(new StreamObservationsRequest { Ages = { "_T" }, CountriesOfOrigin = { "_T" }, Countries = { "BLZ" } })).Count);
    }

    [Fact]
    public async Task Streams_in_batches_of_the_requested_size()
    {
        await using var node = await TestNode.StartAsync();
        await node.Observations.SubmitObservationsAsync(Submit([.. Enumerable.Range(2001, 5).Select(y => Refugees(period: $"{y}"))]));

        var messages = await node.StreamAsync(new StreamObservationsRequest { BatchSize = 2 });

        Assert.Equal([2, 2, 1], messages.Select(m => m.Observations.Count));
    }

    [Fact]
    public async Task As_of_returns_the_values_known_at_that_time()
    {
        await using var node = await TestNode.StartAsync();
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 230)));
        var firstTime = Assert.Single(await node.QueryAsync()).RecordedTime;
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240), Refugees(sex: "F", value: 128)));
        var secondTime = (await node.QueryAsync()).Max(s => s.RecordedTime)!;

        var before = await node.QueryAsync(new StreamObservationsRequest { AsOfTime = Timestamp.FromDateTimeOffset(firstTime.ToDateTimeOffset().AddTicks(-10)) });
        var atFirst = await node.QueryAsync(new StreamObservationsRequest { AsOfTime = firstTime });
        var atSecond = await node.QueryAsync(new StreamObservationsRequest { AsOfTime = secondTime });

        Assert.Empty(before);
        Assert.Equal(230, Assert.Single(atFirst).Observation.Value);
        Assert.Equal([128d, 240d], atSecond.Select(s => s.Observation.Value).Order());
    }

    [Fact]
    public async Task A_deletion_is_a_recorded_revision_that_as_of_can_still_see_behind()
    {
        await using var node = await TestNode.StartAsync();
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240), Refugees(sex: "F", value: 128)));
        var beforeDeletion = (await node.QueryAsync()).Max(s => s.RecordedTime)!;

        var deleted = await node.Observations.DeleteObservationsAsync(new DeleteObservationsRequest { Keys = { KeyOf(Refugees()) } });
        var again = await node.Observations.DeleteObservationsAsync(new DeleteObservationsRequest { Keys = { KeyOf(Refugees()), KeyOf(Refugees(sex: "M")) } });

        Assert.Equal((1, 0, 3L), (deleted.Deleted, deleted.Absent, deleted.LastOriginSequence));
        Assert.Equal((0, 2), (again.Deleted, again.Absent));
        Assert.Equal("F", Assert.Single(await node.QueryAsync()).Observation.Sex);
        Assert.Equal(2, (await node.QueryAsync(new StreamObservationsRequest { AsOfTime = beforeDeletion })).Count);
        var history = await node.Observations.GetObservationHistoryAsync(new GetObservationHistoryRequest { Key = KeyOf(Refugees()) });
        Assert.Equal([false, true], history.Revisions.Select(r => r.Deleted));
        Assert.Equal(3, node.CountRows());

        var back = await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 245)));

        Assert.Equal(1, back.Inserted);
        Assert.Equal(3, Assert.Single(await node.QueryAsync(), s => s.Observation.Sex == "_T").Revision);
    }

    [Fact]
    public async Task A_retried_deletion_is_idempotent_by_request_id()
    {
        await using var node = await TestNode.StartAsync();
        await node.Observations.SubmitObservationsAsync(Submit(Refugees()));
        var request = new DeleteObservationsRequest { RequestId = "delete-1", Keys = { KeyOf(Refugees()) } };

        var first = await node.Observations.DeleteObservationsAsync(request);
        var retry = await node.Observations.DeleteObservationsAsync(request);

        Assert.Equal(1, first.Deleted);
        Assert.True(retry.Replayed);
        Assert.Equal(1, retry.Deleted);
        Assert.Equal(2, node.CountRows());
    }

    [Fact]
    public async Task Deleting_another_States_key_or_a_malformed_key_is_refused()
    {
        await using var node = await TestNode.StartAsync();
        await node.Observations.SubmitObservationsAsync(Submit(Refugees()));
        var foreign = KeyOf(Refugees());
        foreign.Country = "PAN";
        var malformed = KeyOf(Refugees());
        malformed.Period = "2023-Q9";

        await RpcAssert.InvalidArgumentAsync(() => node.Observations.DeleteObservationsAsync(new DeleteObservationsRequest { Keys = { KeyOf(Refugees()), foreign } }).ResponseAsync, "keys[1].country");
        await RpcAssert.InvalidArgumentAsync(() => node.Observations.DeleteObservationsAsync(new DeleteObservationsRequest { Keys = { malformed } }).ResponseAsync, "keys[0].period");

        Assert.Equal(1, node.CountRows());
    }

    [Fact]
    public async Task History_of_an_unknown_key_is_not_found_and_of_a_malformed_key_invalid()
    {
        await using var node = await TestNode.StartAsync();
        var malformed = KeyOf(Refugees());
        malformed.Sex = "X";

        await RpcAssert.ReasonAsync(() => node.Observations.GetObservationHistoryAsync(new GetObservationHistoryRequest { Key = KeyOf(Refugees()) }).ResponseAsync,
            StatusCode.NotFound, "OBSERVATION_NOT_FOUND");
        await RpcAssert.InvalidArgumentAsync(() => node.Observations.GetObservationHistoryAsync(new GetObservationHistoryRequest { Key = malformed }).ResponseAsync, "key.sex");
        await RpcAssert.InvalidArgumentAsync(() => node.Observations.GetObservationHistoryAsync(new GetObservationHistoryRequest()).ResponseAsync, "key");
    }

    [Theory]
    [InlineData("indicator_codes[0]")]
    [InlineData("period_from")]
    [InlineData("batch_size")]
    [InlineData("indicator_codes")]
    [InlineData("countries")]
    [InlineData("sexes")]
    [InlineData("ages")]
    [InlineData("countries_of_origin")]
    [InlineData("countries[1]")]
    [InlineData("sexes[1]")]
    [InlineData("ages[0]")]
    [InlineData("countries_of_origin[2]")]
    [InlineData("period_to")]
    public async Task A_malformed_query_is_refused(string field)
    {
        await using var node = await TestNode.StartAsync();
        var request = field switch
        {
            "indicator_codes[0]" => new StreamObservationsRequest { IndicatorCodes = { "NOPE" } },
            "period_from" => new StreamObservationsRequest { PeriodFrom = "last year" },
            "batch_size" => new StreamObservationsRequest { BatchSize = 10_001 },
            // 301 entries, each valid: the list itself is too long.
            "indicator_codes" => new StreamObservationsRequest { IndicatorCodes = { Enumerable.Repeat("REFUGEES", 301) } },
            "countries" => new StreamObservationsRequest { Countries = { Enumerable.Repeat("BLZ", 301) } },
            "sexes" => new StreamObservationsRequest { Sexes = { Enumerable.Repeat("F", 301) } },
            "ages" => new StreamObservationsRequest { Ages = { Enumerable.Repeat("_T", 301) } },
            "countries_of_origin" => new StreamObservationsRequest { CountriesOfOrigin = { Enumerable.Repeat("VEN", 301) } },
            // Codes outside the catalogue's codelists.
            "countries[1]" => new StreamObservationsRequest { Countries = { "BLZ", "USA" } },
            "sexes[1]" => new StreamObservationsRequest { Sexes = { "F", "X" } },
            "ages[0]" => new StreamObservationsRequest { Ages = { "Y18T64" } },
            "countries_of_origin[2]" => new StreamObservationsRequest { CountriesOfOrigin = { "VEN", "_T", "ven" } },
            "period_to" => new StreamObservationsRequest { PeriodFrom = "2023-Q2", PeriodTo = "2023-03" },
            _ => throw new ArgumentOutOfRangeException(nameof(field)),
        };

        await RpcAssert.InvalidArgumentAsync(() => node.StreamAsync(request), field);
    }

    [Fact]
    public async Task A_query_with_hundreds_of_bad_codes_lists_100_violations_the_last_counting_the_rest()
    {
        await using var node = await TestNode.StartAsync();

        var error = await Assert.ThrowsAsync<RpcException>(() => node.StreamAsync(new StreamObservationsRequest
        {
            Sexes = { Enumerable.Repeat("X", 300) }, Ages = { Enumerable.Repeat("Y", 300) },
        }));

        var violations = error.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations;
        Assert.Equal(100, violations.Count);
        Assert.Equal("sexes[98]", violations[98].Field);
        Assert.Equal("query", violations[99].Field);
        Assert.Contains("and 501 more", violations[99].Description);
    }

    [Fact]
    public async Task Filters_of_300_entries_empty_dimension_values_and_a_one_period_range_are_accepted()
    {
        await using var node = await TestNode.StartAsync();
        var permits = new Observation
        {
            IndicatorCode = "WORK_PERMITS", Country = "BLZ", Period = "2023", Sex = "_T", CountryOfOrigin = "_T", Value = 50, Status = ObservationStatus.Normal,
        };
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(), Refugees(age: "Y0T4"), permits));

        var origins = await node.QueryAsync(new StreamObservationsRequest { CountriesOfOrigin = { Enumerable.Repeat("_T", 300) } });
        // WORK_PERMITS does not declare the age dimension: its observations have an empty age.
        var totalsOrUndeclared = await node.QueryAsync(new StreamObservationsRequest { Ages = { "_T", "" } });
        var oneYear = await node.QueryAsync(new StreamObservationsRequest { PeriodFrom = "2023", PeriodTo = "2023" });

        Assert.Equal(3, origins.Count);
        Assert.Equal(["REFUGEES/_T", "WORK_PERMITS/"], totalsOrUndeclared.Select(s => $"{s.Observation.IndicatorCode}/{s.Observation.Age}").Order());
        Assert.Equal(3, oneYear.Count);
    }

    [Fact]
    public async Task Large_batches_are_split_below_the_default_client_receive_limit()
    {
        await using var node = await TestNode.StartAsync();
        var rows = DistinctRefugees(10_000);
        var note = new string('n', 1_000);
        foreach (var row in rows)
        {
            row.Note = note;
        }
        await node.Observations.SubmitObservationsAsync(new SubmitObservationsRequest { Observations = { rows } });

        // About 10.8 MB of observations: one message of 10,000 would exceed the 4 MB a client accepts by default.
        var messages = await node.StreamAsync(new StreamObservationsRequest { BatchSize = 10_000 });

        Assert.Equal(10_000, messages.Sum(m => m.Observations.Count));
        Assert.InRange(messages.Count, 10, 12);
        Assert.All(messages, m => Assert.InRange(m.CalculateSize(), 1, 1024 * 1024 + 2 * 1_100));
        Assert.All(messages.SkipLast(1), m => Assert.True(m.CalculateSize() >= 1024 * 1024));
    }

    [Fact]
    public void Filter_lists_are_sent_as_one_parameter_per_item()
    {
        using var db = new NodeDbContext(new DbContextOptionsBuilder<NodeDbContext>().UseSqlite("Data Source=:memory:").Options);

        var sql = db.Observations.WhereIn(["F", "M"], codes => o => codes.Contains(o.Sex)).ToQueryString();

        Assert.Contains(@"""o"".""sex"" IN (@codes1, @codes2)", sql);
        Assert.DoesNotContain("'F'", sql[sql.IndexOf("SELECT", StringComparison.Ordinal)..]);
    }
}
