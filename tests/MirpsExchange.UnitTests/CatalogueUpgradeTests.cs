using Mirps.Catalog.V1;
using MirpsExchange.Catalogue;

namespace MirpsExchange.UnitTests;

/// <summary>Catalogue 2.0's declared mapping of 1.0 (upgrades_from) and which catalogue versions sync with which.</summary>
public class CatalogueUpgradeTests
{
    private static readonly StandardCatalogue V1 = StandardCatalogue.LoadVersion("1.0.0");
    private static readonly StandardCatalogue V2 = StandardCatalogue.LoadVersion("2.0.0");

    [Fact]
    public void Catalogue_2_declares_a_mapping_of_1_0_that_covers_every_indicator_code_dimension_and_period()
    {
        var upgrade = Assert.Single(V2.Catalog.UpgradesFrom);
        Assert.Equal("1.0.0", upgrade.FromVersion);
        Assert.Empty(upgrade.RenamedCodes); // codes are unchanged in 2.0: a signed 1.0 change verifies as it is
        Assert.Empty(CatalogueUpgrade.Problems(V1, V2));
    }

    [Fact]
    public void A_mapping_that_loses_an_indicator_a_code_or_a_period_is_reported()
    {
        var broken = V2.Catalog.Clone();
        broken.Indicators.Remove(broken.Indicators.Single(i => i.Code == "RETURNEES_PROTECTION_NEEDS"));
        var sex = broken.Codelists.Single(c => c.Codes.Any(code => code.Id == "F") && c.Codes.Any(code => code.Id == "M"));
        sex.Codes.Remove(sex.Codes.Single(c => c.Id == "F"));
        broken.Indicators.Single(i => i.Code == "REFUGEES").Granularities.Remove(PeriodGranularity.Month);

        var problems = CatalogueUpgrade.Problems(V1, new StandardCatalogue(broken));

        Assert.Contains(problems, p => p.Contains("indicator RETURNEES_PROTECTION_NEEDS of 1.0.0 is missing"));
        Assert.Contains(problems, p => p.Contains($"code {sex.Id}/F of 1.0.0 is missing"));
        Assert.Contains(problems, p => p.Contains("REFUGEES: PERIOD_GRANULARITY_MONTH periods") || p.Contains("REFUGEES: Month periods"));
        broken.UpgradesFrom.Clear();
        Assert.Contains("declares no mapping from 1.0.0", Assert.Single(CatalogueUpgrade.Problems(V1, new StandardCatalogue(broken))));
    }

    [Fact]
    public void Versions_sync_when_one_catalogue_maps_the_other_and_only_with_the_shipped_digests()
    {
        Assert.Equal(CatalogueUpgrade.Relation.Same, CatalogueUpgrade.RelationTo(V2, "2.0.0", V2.Digest));
        Assert.Equal(CatalogueUpgrade.Relation.ReaderEarlier, CatalogueUpgrade.RelationTo(V2, "1.0.0", V1.Digest));
        Assert.Equal(CatalogueUpgrade.Relation.ReaderLater, CatalogueUpgrade.RelationTo(V1, "2.0.0", V2.Digest));
        Assert.Equal(CatalogueUpgrade.Relation.Unrelated, CatalogueUpgrade.RelationTo(V2, "1.0.0", new string('0', 64)));
        Assert.Equal(CatalogueUpgrade.Relation.Unrelated, CatalogueUpgrade.RelationTo(V2, "2.1.0", V2.Digest));
        var local = V2.Catalog.Clone();
        local.Name.En = "A State's own edit";
        Assert.Equal(CatalogueUpgrade.Relation.Unrelated, CatalogueUpgrade.RelationTo(new StandardCatalogue(local), "1.0.0", V1.Digest));
    }

    [Fact]
    public void Catalogue_1_0_holds_none_of_catalogue_2_attributes()
    {
        var validator = new MirpsExchange.Catalogue.Validation.ObservationValidator(V1);
        var o = new Mirps.Observation.V1.Observation
        {
            IndicatorCode = "REFUGEES", Country = "BLZ", Period = "2023", Sex = "_T", Age = "_T", CountryOfOrigin = "_T", Value = 5,
            Status = Mirps.Observation.V1.ObservationStatus.Normal,
        };
        Assert.True(validator.ValidateObservations([o], "BLZ", new DateOnly(2026, 12, 6)).IsValid);
        foreach (var (field, set) in new (string, Action<Mirps.Observation.V1.Observation>)[]
        {
            ("lower_bound", x => x.LowerBound = true),
            ("synthetic", x => x.Synthetic = true),
            ("confidentiality", x => x.Confidentiality = Mirps.Observation.V1.ConfidentialityStatus.Free),
        })
        {
            var attributed = o.Clone();
            set(attributed);
            Assert.Equal($"observations[0].{field}", Assert.Single(validator.ValidateObservations([attributed], "BLZ", new DateOnly(2026, 12, 6)).Violations).Field);
            Assert.True(new MirpsExchange.Catalogue.Validation.ObservationValidator(V2).ValidateObservations([attributed], "BLZ", new DateOnly(2026, 12, 6)).IsValid);
        }
    }
}
