using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Mirps.Auth;
using Mirps.Observation.V1;
using Mirps.Regional.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using PeriodGranularity = Mirps.Catalog.V1.PeriodGranularity;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The Secretariat's RegionalService on a real host, over a store filled the way sync fills it (each
/// origin's changes with the origin's recorded times), called with the Secretariat's credential.
/// </summary>
public class RegionalTests
{
    private static readonly string[] States = ["BLZ", "CRI", "SLV", "GTM", "HND", "MEX", "PAN"];
    private static readonly DateTimeOffset January = new(2024, 1, 15, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset March = new(2024, 3, 15, 0, 0, 0, TimeSpan.Zero);

    private static Observation Obs(string indicator, string country, string period, double value,
        string sex = "_T", string age = "_T", string origin = "_T", ObservationStatus status = ObservationStatus.Normal) => new()
    {
        IndicatorCode = indicator, Country = country, Period = period, Sex = sex, Age = age, CountryOfOrigin = origin, Value = value, Status = status,
    };

    private static Task<GetRegionalValueResponse> ValueAsync(TestSecretariat secretariat, string indicator, string period,
        Breakdown breakdown = Breakdown.Unspecified, DateTimeOffset? asOf = null) =>
        secretariat.Regional.GetRegionalValueAsync(new GetRegionalValueRequest
        {
            IndicatorCode = indicator, Period = period, Breakdown = breakdown, AsOfTime = asOf is { } t ? Timestamp.FromDateTimeOffset(t) : null,
        }).ResponseAsync;

    [Fact]
    public async Task The_regional_total_is_the_sum_of_every_States_latest_value_and_says_who_is_provisional_or_estimated()
    {
        await using var secretariat = await TestSecretariat.StartAsync();
        await secretariat.ReplicateAsync(January, States.Select((c, i) => Obs("REFUGEES", c, "2023", 100 * (i + 1))));
        // Belize revises 100 -> 240; Mexico's figure is provisional, Panama's estimated; a breakdown cell must not count.
        await secretariat.ReplicateAsync(March,
        [
            Obs("REFUGEES", "BLZ", "2023", 240), Obs("REFUGEES", "MEX", "2023", 600, status: ObservationStatus.Provisional),
            Obs("REFUGEES", "PAN", "2023", 700, status: ObservationStatus.Estimated), Obs("REFUGEES", "BLZ", "2023", 999, sex: "F"),
        ]);

        var response = await ValueAsync(secretariat, "REFUGEES", "2023");

        var cell = Assert.Single(response.Cells);
        // 240 + 200 + 300 + 400 + 500 + 600 + 700
        Assert.Equal(2940, cell.Value);
        Assert.True(cell.Complete);
        Assert.Equal(States, cell.ContributingCountries);
        Assert.Empty(cell.MissingCountries);
        Assert.Equal(["MEX"], cell.ProvisionalCountries);
        Assert.Equal(["PAN"], cell.EstimatedCountries);
        Assert.Equal(("_T", "_T", "_T"), (cell.Sex, cell.Age, cell.CountryOfOrigin));
    }

    [Fact]
    public async Task Every_answer_names_the_signed_head_of_each_States_log_it_was_computed_from_and_an_earlier_as_of_the_earlier_head()
    {
        await using var secretariat = await TestSecretariat.StartAsync();
        await secretariat.ReplicateAsync(January, States.Select((c, i) => Obs("REFUGEES", c, "2023", 100 * (i + 1))));
        var january = await ValueAsync(secretariat, "REFUGEES", "2023");
        // Belize revises its figure and adds one: its log grows to change 3, signed again.
        await secretariat.ReplicateAsync(March, [Obs("REFUGEES", "BLZ", "2023", 240), Obs("REFUGEES", "BLZ", "2022", 90)]);
        var now = await ValueAsync(secretariat, "REFUGEES", "2023");
        var february = new DateTimeOffset(2024, 2, 15, 0, 0, 0, TimeSpan.Zero);
        var asOfFebruary = await ValueAsync(secretariat, "REFUGEES", "2023", asOf: february);
        var beforeAnything = await ValueAsync(secretariat, "REFUGEES", "2023", asOf: January.AddDays(-1));

        // One head per State, in the catalogue's order, each over the State's last change and signed with its registered key.
        Assert.Equal(States, january.LogHeads.Select(h => h.Origin));
        Assert.All(january.LogHeads, h => Assert.Equal(1, h.Sequence));
        foreach (var head in now.LogHeads)
        {
            using var key = await TestLogKeys.KeyAsync(secretariat.Identity, head.Origin);
            Assert.True(Mirps.Log.LogHeadSignature.Verify(head, key), $"{head.Origin}'s head does not verify");
            Assert.Equal(Mirps.Auth.LogKeys.KeyId(key.ExportSubjectPublicKeyInfo()), head.KeyId);
        }
        // New data, a new head (Belize's only); as of a time before it, the old head, with the old figure.
        var blz = now.LogHeads.Single(h => h.Origin == "BLZ");
        Assert.Equal(3, blz.Sequence);
        Assert.NotEqual(january.LogHeads[0].Hash, blz.Hash);
        Assert.Equal(january.LogHeads.Skip(1), now.LogHeads.Skip(1));
        Assert.Equal(january.LogHeads, asOfFebruary.LogHeads);
        Assert.Equal(january.Cells[0].Value, asOfFebruary.Cells[0].Value);
        Assert.NotEqual(january.Cells[0].Value, now.Cells[0].Value);
        Assert.Empty(beforeAnything.LogHeads);

        // The other answers name the same heads.
        var asOf = Timestamp.FromDateTimeOffset(february);
        var rates = await secretariat.Regional.GetProtectionRatesAsync(new GetProtectionRatesRequest { Period = "2023", AsOfTime = asOf });
        var change = await secretariat.Regional.GetRegionalChangeAsync(new GetRegionalChangeRequest { IndicatorCode = "REFUGEES", Period = "2023", AsOfTime = asOf });
        var completeness = await secretariat.Regional.GetCompletenessAsync(new GetCompletenessRequest { PeriodFrom = "2023", PeriodTo = "2023", IndicatorCodes = { "REFUGEES" } });
        Assert.Equal(january.LogHeads, rates.LogHeads);
        Assert.Equal(january.LogHeads, change.LogHeads);
        Assert.Equal(now.LogHeads, completeness.LogHeads);
    }

    [Fact]
    public async Task A_State_that_did_not_report_or_deleted_its_value_makes_the_total_partial_and_is_named()
    {
        await using var secretariat = await TestSecretariat.StartAsync();
        await secretariat.ReplicateAsync(January, States.Where(c => c != "HND").Select(c => Obs("ASYLUM_APPLICATIONS", c, "2023-Q1", 10)));
        await secretariat.ReplicateAsync(March, [Obs("ASYLUM_APPLICATIONS", "GTM", "2023-Q1", 10)], deleted: true);

        var cell = Assert.Single((await ValueAsync(secretariat, "ASYLUM_APPLICATIONS", "2023-Q1")).Cells);
        var nobody = Assert.Single((await ValueAsync(secretariat, "ASYLUM_APPLICATIONS", "2023-Q2")).Cells);

        Assert.Equal(50, cell.Value);
        Assert.False(cell.Complete);
        Assert.Equal(["GTM", "HND"], cell.MissingCountries);
        Assert.Equal(["BLZ", "CRI", "SLV", "MEX", "PAN"], cell.ContributingCountries);
        Assert.Equal((0, false), (nobody.Value, nobody.Complete));
        Assert.Equal(States, nobody.MissingCountries);
    }

    [Fact]
    public async Task A_revision_changes_the_regional_value_and_as_of_still_returns_the_published_one()
    {
        await using var secretariat = await TestSecretariat.StartAsync();
        await secretariat.ReplicateAsync(January, States.Select(c => Obs("IDPS", c, "2023", 1000, origin: "")));
        var published = await ValueAsync(secretariat, "IDPS", "2023");
        // Honduras revises after the figure was published (its node records the revision at its own now).
        await Task.Delay(5);
        await secretariat.ReplicateAsync(DateTimeOffset.UtcNow, [Obs("IDPS", "HND", "2023", 250_000, origin: "")]);

        var now = await ValueAsync(secretariat, "IDPS", "2023");
        var asPublished = await ValueAsync(secretariat, "IDPS", "2023", asOf: published.AsOfTime.ToDateTimeOffset());
        var beforeAnything = await ValueAsync(secretariat, "IDPS", "2023", asOf: January.AddDays(-1));

        Assert.Equal(7_000, Assert.Single(published.Cells).Value);
        Assert.Equal(6_000 + 250_000, Assert.Single(now.Cells).Value);
        Assert.Equal(published.Cells, asPublished.Cells);
        Assert.Equal(States, Assert.Single(beforeAnything.Cells).MissingCountries);
        // IDPS declares no country of origin: its total cell leaves it empty.
        Assert.Equal("", Assert.Single(now.Cells).CountryOfOrigin);
    }

    [Fact]
    public async Task A_breakdown_has_one_cell_per_code_with_the_other_dimensions_at_their_total()
    {
        await using var secretariat = await TestSecretariat.StartAsync();
        await secretariat.ReplicateAsync(January,
        [
            Obs("REFUGEES", "BLZ", "2023", 100, sex: "F"), Obs("REFUGEES", "BLZ", "2023", 140, sex: "M"), Obs("REFUGEES", "BLZ", "2023", 240),
            Obs("REFUGEES", "CRI", "2023", 30, sex: "F"), Obs("REFUGEES", "CRI", "2023", 7, sex: "F", age: "Y0T4"),
        ]);

        var response = await ValueAsync(secretariat, "REFUGEES", "2023", Breakdown.Sex);

        Assert.Equal(["F|130|BLZ,CRI", "M|140|BLZ", "_T|240|BLZ"],
            response.Cells.Select(c => $"{c.Sex}|{c.Value}|{string.Join(',', c.ContributingCountries)}"));
        Assert.All(response.Cells, c => Assert.Equal(("_T", "_T", false), (c.Age, c.CountryOfOrigin, c.Complete)));
    }

    [Fact]
    public async Task An_indicator_that_is_not_additive_is_refused_with_its_aggregation_rule()
    {
        await using var secretariat = await TestSecretariat.StartAsync();
        await secretariat.ReplicateAsync(January, States.Select(c => Obs("MEDIAN_PROCESSING_DAYS", c, "2023", 90, sex: "", age: "")));

        var info = await RpcAssert.ReasonAsync(() => ValueAsync(secretariat, "MEDIAN_PROCESSING_DAYS", "2023"), StatusCode.FailedPrecondition, "NOT_AGGREGABLE");
        var change = await Assert.ThrowsAsync<RpcException>(() => secretariat.Regional.GetRegionalChangeAsync(
            new GetRegionalChangeRequest { IndicatorCode = "MEDIAN_PROCESSING_DAYS", Period = "2023" }).ResponseAsync);

        Assert.Equal("AGGREGATION_RULE_NOT_AGGREGABLE", info.Metadata["aggregation_rule"]);
        Assert.Contains("AGGREGATION_RULE_NOT_AGGREGABLE", change.Status.Detail);
        Assert.Equal(StatusCode.FailedPrecondition, change.StatusCode);
        Assert.Contains("median of the States' medians", info.Metadata["not_additive_reason"]);
    }

    [Fact]
    public async Task Persons_assisted_are_not_summed_across_States_and_the_caller_is_told_why()
    {
        // Costa Rica and Panama both count the people crossing the Darien they assist: a sum would count them twice.
        await using var secretariat = await TestSecretariat.StartAsync();
        await secretariat.ReplicateAsync(January, [Obs("PERSONS_ASSISTED", "CRI", "2023", 100_000, origin: ""), Obs("PERSONS_ASSISTED", "PAN", "2023", 80_000, origin: "")]);

        var info = await RpcAssert.ReasonAsync(() => ValueAsync(secretariat, "PERSONS_ASSISTED", "2023"), StatusCode.FailedPrecondition, "NOT_AGGREGABLE");
        var change = await Assert.ThrowsAsync<RpcException>(() => secretariat.Regional.GetRegionalChangeAsync(
            new GetRegionalChangeRequest { IndicatorCode = "PERSONS_ASSISTED", Period = "2023" }).ResponseAsync);

        Assert.Equal("PERSONS_ASSISTED", info.Metadata["indicator_code"]);
        Assert.Contains("Darién", info.Metadata["not_additive_reason"]);
        Assert.Contains("Costa Rica", info.Metadata["not_additive_reason"]);
        Assert.Contains("Darién", info.Metadata["not_additive_reason_es"]);
        Assert.Equal(StatusCode.FailedPrecondition, change.StatusCode);
        Assert.Contains("counted by both Panama and Costa Rica", change.Status.Detail);
    }

    [Fact]
    public async Task Rates_are_ratios_of_summed_components_over_the_States_that_reported_every_component()
    {
        await using var secretariat = await TestSecretariat.StartAsync();
        await secretariat.ReplicateAsync(January,
        [
            Obs("DECISIONS_RECOGNIZED", "BLZ", "2023", 240), Obs("DECISIONS_COMPLEMENTARY", "BLZ", "2023", 10), Obs("DECISIONS_REJECTED", "BLZ", "2023", 150),
            Obs("DECISIONS_RECOGNIZED", "CRI", "2023", 1000), Obs("DECISIONS_COMPLEMENTARY", "CRI", "2023", 500),
            Obs("DECISIONS_REJECTED", "CRI", "2023", 3500, status: ObservationStatus.Provisional),
            Obs("DECISIONS_RECOGNIZED", "SLV", "2023", 5), Obs("DECISIONS_REJECTED", "SLV", "2023", 15),
            Obs("DECISIONS_RECOGNIZED", "GTM", "2023", 20),
            Obs("DECISIONS_OTHERWISE_CLOSED", "BLZ", "2023", 5000), Obs("DECISIONS_RECOGNIZED", "BLZ", "2023", 77, sex: "F"),
        ]);

        var rates = await secretariat.Regional.GetProtectionRatesAsync(new GetProtectionRatesRequest { Period = "2023" });

        // UNHCR's refugee recognition rate, over every substantive decision, States with recognized, complementary
        // and rejected: BLZ, CRI (SLV has no complementary, GTM only recognized).
        //   numerator   = 240 + 1000                                  = 1240
        //   denominator = (240 + 10 + 150) + (1000 + 500 + 3500)      = 5400
        //   rate        = 1240 / 5400                                 = 0.22962...
        // (Catalogue 1.0's rate left complementary protection out of the denominator: BLZ, CRI and SLV,
        // 1245 / (1245 + 150 + 3500 + 15) = 1245 / 4910 = 0.25356..., which overstates recognition.
        // The mean of the countries' rates, (240/400 + 1000/5000) / 2 = 0.4, would be wrong too.)
        var recognition = rates.RecognitionRate;
        Assert.Equal((1240, 5400), (recognition.Numerator, recognition.Denominator));
        Assert.Equal(1240.0 / 5400.0, recognition.Rate, 12);
        Assert.Equal(["BLZ", "CRI"], recognition.IncludedCountries);
        Assert.Equal(["SLV", "GTM", "HND", "MEX", "PAN"], recognition.ExcludedCountries);
        Assert.False(recognition.Complete);
        Assert.Equal(["CRI"], recognition.ProvisionalCountries);

        // Total protection rate, States with recognized, complementary and rejected: BLZ, CRI (SLV has no complementary).
        //   numerator   = (240 + 10) + (1000 + 500)       = 1750
        //   denominator = 1750 + (150 + 3500)              = 5400   (otherwise closed is not substantive)
        //   rate        = 1750 / 5400                      = 0.32407...
        var total = rates.TotalProtectionRate;
        Assert.Equal((1750, 5400), (total.Numerator, total.Denominator));
        Assert.Equal(1750.0 / 5400.0, total.Rate, 12);
        Assert.Equal(["BLZ", "CRI"], total.IncludedCountries);
        Assert.Equal(["SLV", "GTM", "HND", "MEX", "PAN"], total.ExcludedCountries);

        var empty = await secretariat.Regional.GetProtectionRatesAsync(new GetProtectionRatesRequest { Period = "2022" });
        Assert.False(empty.RecognitionRate.HasRate);
        Assert.Equal(States, empty.RecognitionRate.ExcludedCountries);
    }

    [Theory]
    [InlineData("2023", "2022")]
    [InlineData("2023-Q1", "2022-Q4")]
    [InlineData("2023-03", "2023-02")]
    [InlineData("2023-01", "2022-12")]
    public async Task A_change_compares_with_the_previous_period_of_the_same_granularity_and_says_each_sides_completeness(string period, string previous)
    {
        await using var secretariat = await TestSecretariat.StartAsync();
        // Previous period: every State, 100 each (700). This period: six States, 150 each (900); PAN missing.
        await secretariat.ReplicateAsync(January, States.Select(c => Obs("WORK_PERMITS", c, previous, 100, age: "")));
        await secretariat.ReplicateAsync(January, States.Where(c => c != "PAN").Select(c => Obs("WORK_PERMITS", c, period, 150, age: "")));

        var response = await secretariat.Regional.GetRegionalChangeAsync(new GetRegionalChangeRequest { IndicatorCode = "WORK_PERMITS", Period = period });

        Assert.Equal(previous, response.PreviousPeriod);
        var change = Assert.Single(response.Changes);
        Assert.Equal((900, 700), (change.Current.Value, change.Previous.Value));
        // 900 - 700 = 200; 200 / 700 = 0.2857...
        Assert.Equal(200, change.AbsoluteChange);
        Assert.Equal(200.0 / 700.0, change.RelativeChange, 12);
        Assert.Equal((false, true, false), (change.Current.Complete, change.Previous.Complete, change.SameCountries));
        Assert.Equal(["PAN"], change.Current.MissingCountries);
    }

    [Fact]
    public async Task Completeness_marks_each_indicator_period_and_State_reported_provisional_or_missing_with_its_last_change()
    {
        await using var secretariat = await TestSecretariat.StartAsync();
        await secretariat.ReplicateAsync(January,
        [
            Obs("REFUGEES", "BLZ", "2023", 240), Obs("REFUGEES", "CRI", "2023", 5, sex: "F", status: ObservationStatus.Provisional),
            Obs("REFUGEES", "SLV", "2023", 9), Obs("REFUGEES", "BLZ", "2022", 230), Obs("ASYLUM_SEEKERS", "BLZ", "2023", 791),
        ]);
        await secretariat.ReplicateAsync(March, [Obs("REFUGEES", "SLV", "2023", 9)], deleted: true);
        await secretariat.ReplicateAsync(March, [Obs("REFUGEES", "BLZ", "2023", 241)]);

        var matrix = await secretariat.Regional.GetCompletenessAsync(new GetCompletenessRequest
        {
            IndicatorCodes = { "REFUGEES" }, PeriodFrom = "2022", PeriodTo = "2023",
        });
        var asOfJanuary = await secretariat.Regional.GetCompletenessAsync(new GetCompletenessRequest
        {
            IndicatorCodes = { "REFUGEES" }, PeriodFrom = "2023", PeriodTo = "2023", AsOfTime = Timestamp.FromDateTimeOffset(January),
        });
        var quarters = await secretariat.Regional.GetCompletenessAsync(new GetCompletenessRequest
        {
            PeriodFrom = "2023-02", PeriodTo = "2023-12", Granularity = PeriodGranularity.Quarter,
        });

        string Cell(GetCompletenessResponse r, string period, string country)
        {
            var c = Assert.Single(r.Cells, c => c.Period == period && c.Country == country);
            return $"{c.State}@{c.LastChangeTime?.ToDateTimeOffset().ToString("yyyy-MM-dd") ?? "never"}";
        }
        Assert.Equal(2 * 7, matrix.Cells.Count);
        Assert.Equal("Reported@2024-03-15", Cell(matrix, "2023", "BLZ"));
        Assert.Equal("Provisional@2024-01-15", Cell(matrix, "2023", "CRI"));
        Assert.Equal("Missing@2024-03-15", Cell(matrix, "2023", "SLV"));
        Assert.Equal("Missing@never", Cell(matrix, "2023", "PAN"));
        Assert.Equal("Reported@2024-01-15", Cell(matrix, "2022", "BLZ"));
        Assert.Equal("Reported@2024-01-15", Cell(asOfJanuary, "2023", "SLV"));
        // Q2..Q4 of 2023 lie wholly between 2023-02 and 2023-12; every indicator (27 in catalogue 2.1.0) accepts quarters.
        Assert.Equal(["2023-Q2", "2023-Q3", "2023-Q4"], quarters.Cells.Select(c => c.Period).Distinct());
        Assert.Equal(27 * 3 * 7, quarters.Cells.Count);
    }

    [Fact]
    public async Task Every_invalid_field_is_named_in_a_bad_request()
    {
        await using var secretariat = await TestSecretariat.StartAsync();
        var regional = secretariat.Regional;

        await RpcAssert.InvalidArgumentAsync(() => regional.GetRegionalValueAsync(new GetRegionalValueRequest { Period = "2023" }).ResponseAsync, "indicator_code");
        await RpcAssert.InvalidArgumentAsync(() => regional.GetRegionalValueAsync(new GetRegionalValueRequest { IndicatorCode = "NOPE", Period = "2023" }).ResponseAsync, "indicator_code");
        await RpcAssert.InvalidArgumentAsync(() => regional.GetRegionalValueAsync(new GetRegionalValueRequest { IndicatorCode = "REFUGEES", Period = "2023Q1" }).ResponseAsync, "period");
        await RpcAssert.InvalidArgumentAsync(() => regional.GetRegionalValueAsync(
            new GetRegionalValueRequest { IndicatorCode = "IDPS", Period = "2023", Breakdown = Breakdown.CountryOfOrigin }).ResponseAsync, "breakdown");
        await RpcAssert.InvalidArgumentAsync(() => regional.GetRegionalValueAsync(
            new GetRegionalValueRequest { IndicatorCode = "REFUGEES", Period = "2023", Breakdown = (Breakdown)9 }).ResponseAsync, "breakdown");
        await RpcAssert.InvalidArgumentAsync(() => regional.GetRegionalValueAsync(new GetRegionalValueRequest
        {
            IndicatorCode = "REFUGEES", Period = "2023", AsOfTime = Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow.AddDays(1)),
        }).ResponseAsync, "as_of_time");
        await RpcAssert.InvalidArgumentAsync(() => regional.GetRegionalChangeAsync(new GetRegionalChangeRequest { IndicatorCode = "REFUGEES" }).ResponseAsync, "period");
        await RpcAssert.InvalidArgumentAsync(() => regional.GetProtectionRatesAsync(new GetProtectionRatesRequest { Period = "23" }).ResponseAsync, "period");
        // MEDIAN_PROCESSING_DAYS is reported by year and quarter only.
        await RpcAssert.InvalidArgumentAsync(() => regional.GetCompletenessAsync(new GetCompletenessRequest
        {
            IndicatorCodes = { "REFUGEES", "MEDIAN_PROCESSING_DAYS" }, PeriodFrom = "2023-01", PeriodTo = "2023-02", Granularity = PeriodGranularity.Month,
        }).ResponseAsync, "indicator_codes[1]");
        await RpcAssert.InvalidArgumentAsync(() => regional.GetCompletenessAsync(new GetCompletenessRequest { PeriodFrom = "2024", PeriodTo = "2023" }).ResponseAsync, "period_to");
        await RpcAssert.InvalidArgumentAsync(() => regional.GetCompletenessAsync(new GetCompletenessRequest
        {
            PeriodFrom = "2000-01", PeriodTo = "2023-12", Granularity = PeriodGranularity.Month,
        }).ResponseAsync, "period_to");
        await RpcAssert.InvalidArgumentAsync(() => regional.GetCompletenessAsync(new GetCompletenessRequest { PeriodTo = "2023" }).ResponseAsync, "period_from");

        // All problems of one request at once.
        var error = await Assert.ThrowsAsync<RpcException>(() => regional.GetRegionalValueAsync(
            new GetRegionalValueRequest { IndicatorCode = "NOPE", Period = "x", Breakdown = (Breakdown)9 }).ResponseAsync);
        Assert.Equal(["indicator_code", "period", "breakdown"], error.GetRpcStatus()!.GetDetail<Google.Rpc.BadRequest>().FieldViolations.Select(v => v.Field));
    }

    [Fact]
    public async Task Only_the_Secretariat_reads_regional_figures_since_they_sum_data_States_do_not_share_with_each_other()
    {
        await using var secretariat = await TestSecretariat.StartAsync();
        // Written under the default policy: shared with the Secretariat only.
        await secretariat.ReplicateAsync(January, [Obs("REFUGEES", "BLZ", "2023", 240)]);
        var request = new GetRegionalValueRequest { IndicatorCode = "REFUGEES", Period = "2023" };

        var asSecretariat = await secretariat.Regional.GetRegionalValueAsync(request);
        var panama = secretariat.RegionalWith(await SharedIdentity.CredentialAsync("PAN"), MirpsAuth.ReadScope);
        // An admin token is for the identity server only (an admin cannot even ask for the Secretariat's audience).
        var admin = secretariat.RegionalWith(await secretariat.Identity.AdminTokens.GetTokenAsync());
        var submitOnly = secretariat.RegionalWith(await SharedIdentity.CredentialAsync("PAN"), MirpsAuth.SubmitScope);
        var anonymous = new RegionalService.RegionalServiceClient(Grpc.Net.Client.GrpcChannel.ForAddress(secretariat.Address));

        Assert.Equal(240, Assert.Single(asSecretariat.Cells).Value);
        await RpcAssert.ReasonAsync(() => panama.GetRegionalValueAsync(request).ResponseAsync, StatusCode.PermissionDenied, "ROLE_NOT_ALLOWED");
        await RpcAssert.ReasonAsync(() => panama.GetCompletenessAsync(new GetCompletenessRequest { PeriodFrom = "2023" }).ResponseAsync, StatusCode.PermissionDenied, "ROLE_NOT_ALLOWED");
        await RpcAssert.ReasonAsync(() => submitOnly.GetRegionalValueAsync(request).ResponseAsync, StatusCode.PermissionDenied, "MISSING_SCOPE");
        var refused = await Assert.ThrowsAsync<RpcException>(() => admin.GetRegionalValueAsync(request).ResponseAsync);
        Assert.Contains(refused.StatusCode, new[] { StatusCode.PermissionDenied, StatusCode.Unauthenticated });
        Assert.Equal(StatusCode.Unauthenticated, (await Assert.ThrowsAsync<RpcException>(() => anonymous.GetRegionalValueAsync(request).ResponseAsync)).StatusCode);
    }
}
