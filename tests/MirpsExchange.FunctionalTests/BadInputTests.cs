using Grpc.Core;
using Mirps.Observation.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// Every rule of the node issue's "bad input": INVALID_ARGUMENT, a BadRequest violation naming the row
/// and field, and the store exactly as it was. The bad row is the second of three, after valid rows.
/// </summary>
public class BadInputTests
{
    public static TheoryData<string, string> Cases() => new()
    {
        { "unknown indicator", "indicator_code" },
        { "undeclared dimension", "age" },
        { "missing dimension", "sex" },
        { "code not in codelist", "country_of_origin" },
        { "malformed period", "period" },
        { "granularity not allowed", "period" },
        { "period not started", "period" },
        { "negative value", "value" },
        { "NaN value", "value" },
        { "infinite value", "value" },
        { "fractional count", "value" },
        { "other State's country", "country" },
        { "not a MIRPS State", "country" },
        { "no status", "status" },
        { "note too long", "note" },
        { "NUL in note", "note" },
        { "control character in note", "note" },
        { "carriage return in note", "note" },
    };

    private static Observation Break(string rule)
    {
        var o = Refugees(sex: "M", value: 112);
        switch (rule)
        {
            case "unknown indicator": o.IndicatorCode = "REFUGEES_TOTAL"; break;
            case "undeclared dimension": o = Permits(); o.Age = "Y18T59"; break;
            case "missing dimension": o.Sex = ""; break;
            case "code not in codelist": o.CountryOfOrigin = "XYZ"; break;
            case "malformed period": o.Period = "2023-13"; break;
            case "granularity not allowed": o = Median(); o.Period = "2023-01"; break;
            case "period not started": o.Period = $"{DateTime.UtcNow.Year + 1}"; break;
            case "negative value": o.Value = -3; break;
            case "NaN value": o.Value = double.NaN; break;
            case "infinite value": o.Value = double.PositiveInfinity; break;
            case "fractional count": o.Value = 12.5; break;
            case "other State's country": o.Country = "CRI"; break;
            case "not a MIRPS State": o.Country = "USA"; break;
            case "no status": o.Status = ObservationStatus.Unspecified; break;
            case "note too long": o.Note = new string('x', 1_001); break;
            case "NUL in note": o.Note = "Ministry\0of Immigration"; break;
            case "control character in note": o.Note = "\u001b]8;;https://evil.example\u0007link\u001b]8;;\u0007"; break;
            case "carriage return in note": o.Note = "first line\r\nsecond line"; break;
            default: throw new ArgumentOutOfRangeException(nameof(rule));
        }
        return o;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_bad_row_is_refused_by_row_and_field_and_nothing_is_stored(string rule, string field)
    {
        await using var node = await TestNode.StartAsync();
        await node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 240)));
        var rowsBefore = node.CountRows();

        var violation = await RpcAssert.InvalidArgumentAsync(
            () => node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 241), Break(rule), Refugees(sex: "F", value: 128))).ResponseAsync,
            $"observations[1].{field}");

        Assert.DoesNotContain("observations[0]", violation.Description);
        Assert.Equal(rowsBefore, node.CountRows());
        Assert.Equal(240, Assert.Single(await node.QueryAsync()).Observation.Value);
    }

    [Fact]
    public async Task A_valid_value_for_a_statistic_may_have_decimals()
    {
        await using var node = await TestNode.StartAsync();
        var median = Median();
        median.Value = 412.5;

        var response = await node.Observations.SubmitObservationsAsync(Submit(median));

        Assert.Equal(1, response.Inserted);
    }

    [Fact]
    public async Task The_same_key_twice_in_one_batch_is_refused_naming_both_rows()
    {
        await using var node = await TestNode.StartAsync();

        var violation = await RpcAssert.InvalidArgumentAsync(
            () => node.Observations.SubmitObservationsAsync(Submit(Refugees(value: 1), Refugees(sex: "F"), Refugees(value: 2))).ResponseAsync,
            "observations[2]");

        Assert.Contains("observations[0]", violation.Description);
        Assert.Equal(0, node.CountRows());
    }

    [Fact]
    public async Task A_batch_over_the_size_limit_is_refused_whole()
    {
        await using var node = await TestNode.StartAsync();
        var request = new SubmitObservationsRequest();
        for (var i = 0; i < 10_001; i++)
        {
            request.Observations.Add(Refugees(period: $"{1950 + i % 70}", value: i));
        }

        var violation = await RpcAssert.InvalidArgumentAsync(() => node.Observations.SubmitObservationsAsync(request).ResponseAsync, "observations");

        Assert.Contains("10,000", violation.Description);
        Assert.Equal(0, node.CountRows());
    }

    [Fact]
    public async Task An_oversized_message_is_refused_by_the_grpc_limit_before_it_is_read()
    {
        await using var node = await TestNode.StartAsync();
        var request = new SubmitObservationsRequest();
        var note = new string('n', 4_000);
        for (var i = 0; i < 5_000; i++)
        {
            var o = Refugees(period: $"{2000 + i % 20}", value: i);
            o.Note = note;
            request.Observations.Add(o);
        }
        Assert.True(request.CalculateSize() > 16 * 1024 * 1024);

        var error = await Assert.ThrowsAsync<RpcException>(() => node.Observations.SubmitObservationsAsync(request).ResponseAsync);

        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal(0, node.CountRows());
    }

    [Fact]
    public async Task Violations_are_listed_for_every_bad_row_up_to_a_cap()
    {
        await using var node = await TestNode.StartAsync();
        var request = new SubmitObservationsRequest();
        for (var i = 0; i < 300; i++)
        {
            request.Observations.Add(Refugees(period: $"{1500 + i}")); // years before 1900 are refused
        }

        var error = await Assert.ThrowsAsync<RpcException>(() => node.Observations.SubmitObservationsAsync(request).ResponseAsync);

        var violations = error.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations;
        Assert.Equal(100, violations.Count);
        Assert.Equal("observations[0].period", violations[0].Field);
        Assert.Contains("201 more", violations[^1].Description);
    }

    private static Observation Permits() => new()
    {
        IndicatorCode = "WORK_PERMITS", Country = "BLZ", Period = "2023", Sex = "_T", CountryOfOrigin = "_T", Value = 50, Status = ObservationStatus.Normal,
    };

    private static Observation Median() => new()
    {
        IndicatorCode = "MEDIAN_PROCESSING_DAYS", Country = "BLZ", Period = "2023", CountryOfOrigin = "_T", Value = 300, Status = ObservationStatus.Normal,
    };
}
