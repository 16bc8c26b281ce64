using Mirps.Log;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Validation;
using MirpsExchange.TestShared;

namespace MirpsExchange.UnitTests;

/// <summary>
/// Catalogue 2.0's dimensions and attributes in the validator: a declared dimension's code comes from its codelist,
/// an empty one takes its default (one spelling per key), an undeclared one stays empty, and the v1 catalogue
/// (which declares none) behaves as before. Until catalogue 2.0.0 ships, a test catalogue declares them
/// (<see cref="CatalogueTwoShape"/>).
/// </summary>
public class CatalogueTwoDimensionsTests
{
    private static readonly DateOnly Today = new(2026, 11, 26);
    private static readonly ObservationValidator V1 = new(CatalogueTwoShape.V1());
    private static readonly ObservationValidator V2 = new(CatalogueTwoShape.Load());

    private static Observation Applications(Action<Observation>? change = null)
    {
        var o = new Observation
        {
            IndicatorCode = CatalogueTwoShape.Applications, Country = "MEX", Period = "2023", Sex = "_T", Age = "_T", CountryOfOrigin = "_T",
            Value = 140_000, Status = ObservationStatus.Estimated,
        };
        change?.Invoke(o);
        return o;
    }

    private static BatchValidation Validate(ObservationValidator validator, params Observation[] rows) => validator.ValidateObservations(rows, "MEX", Today);

    [Fact]
    public void An_empty_declared_dimension_takes_its_default_and_an_undeclared_one_stays_empty()
    {
        var result = Validate(V2, Applications());
        Assert.True(result.IsValid, string.Join("; ", result.Violations));
        // APPLICATION_TYPE, PROCEDURE_TYPE and COUNT_BASIS declared; DECISION_LEVEL and COUNTRY_OF_DESTINATION not.
        Assert.Equal(new AddedDimensions("_T", "", "_T", "PERSONS", ""), result.Dimensions[0]);

        var given = Validate(V2, Applications(o => { o.ApplicationType = "NEW"; o.ProcedureType = "JOINT"; o.CountBasis = "CASES"; }));
        Assert.True(given.IsValid, string.Join("; ", given.Violations));
        Assert.Equal(new AddedDimensions("NEW", "", "JOINT", "CASES", ""), given.Dimensions[0]);
    }

    [Fact]
    public void A_declared_dimension_takes_only_its_codes()
    {
        var result = Validate(V2, Applications(), Applications(o => { o.Period = "2022"; o.ApplicationType = "FIRST"; }),
            Applications(o => { o.Period = "2021"; o.CountBasis = "_T"; }));
        Assert.Equal(["observations[1].application_type", "observations[2].count_basis"], result.Violations.Select(v => v.Field));
        Assert.Contains("'FIRST' is not a code of the APPLICATION_TYPE dimension (NEW, REPEAT, APPEAL, _T)", result.Violations[0].Description);
        Assert.Contains("(PERSONS, CASES)", result.Violations[1].Description); // no total: persons and cases never add
    }

    [Fact]
    public void An_undeclared_dimension_must_stay_empty()
    {
        var result = Validate(V2, Applications(o => o.DecisionLevel = "_T"), Applications(o => { o.Period = "2022"; o.CountryOfDestination = "USA"; }));
        Assert.Equal(["observations[0].decision_level", "observations[1].country_of_destination"], result.Violations.Select(v => v.Field));
        Assert.Contains("does not declare the DECISION_LEVEL dimension", result.Violations[0].Description);
    }

    [Fact]
    public void Empty_and_the_default_are_one_key()
    {
        var result = Validate(V2, Applications(), Applications(o => { o.ApplicationType = "_T"; o.CountBasis = "PERSONS"; }));
        var violation = Assert.Single(result.Violations);
        Assert.Equal("observations[1]", violation.Field);
        Assert.Contains("the same key as observations[0]", violation.Description);

        // A deletion's key is normalised alike, so it finds the row stored with the defaults.
        var keys = V2.ValidateKeys([Applications().Key()], "MEX", DateOnly.MaxValue);
        Assert.True(keys.IsValid);
        Assert.Equal(new AddedDimensions("_T", "", "_T", "PERSONS", ""), keys.Dimensions[0]);
        Assert.Equal(new AddedDimensions("_T", "", "_T", "PERSONS", ""), V2.Catalogue.Normalised(CatalogueTwoShape.Applications, default));
    }

    [Fact]
    public void The_v1_catalogue_declares_none_of_them_and_behaves_as_before()
    {
        var v1 = Validate(V1, Applications());
        Assert.True(v1.IsValid, string.Join("; ", v1.Violations));
        Assert.Equal(default, v1.Dimensions[0]);
        var refused = Validate(V1, Applications(o => o.ApplicationType = "_T"), Applications(o => { o.Period = "2022"; o.CountBasis = "PERSONS"; }));
        Assert.Equal(["observations[0].application_type", "observations[1].count_basis"], refused.Violations.Select(v => v.Field));
        Assert.Contains("ASYLUM_APPLICATIONS does not declare the APPLICATION_TYPE dimension; leave application_type empty (got '_T')", refused.Violations[0].Description);
    }

    [Fact]
    public void Attributes_are_any_flags_and_a_known_confidentiality()
    {
        var valid = Validate(V2, Applications(o => { o.LowerBound = true; o.Synthetic = true; o.Confidentiality = ConfidentialityStatus.NotForPublication; }));
        Assert.True(valid.IsValid, string.Join("; ", valid.Violations));
        var refused = Validate(V1, Applications(o => o.Confidentiality = (ConfidentialityStatus)7));
        Assert.Equal("observations[0].confidentiality", Assert.Single(refused.Violations).Field);
    }

    [Fact]
    public void A_replica_validates_a_change_with_the_same_rules()
    {
        Assert.Empty(V2.ValidateChange(Applications(o => o.ApplicationType = "APPEAL"), ChangeContent.Complete, "MEX", Today));
        Assert.Equal("observation.application_type",
            Assert.Single(V2.ValidateChange(Applications(o => o.ApplicationType = "OTHER"), ChangeContent.Complete, "MEX", Today)).Field);
        Assert.Equal("observation.procedure_type",
            Assert.Single(V1.ValidateChange(Applications(o => o.ProcedureType = "UNHCR"), ChangeContent.Complete, "MEX", Today)).Field);
    }

    [Fact]
    public void A_dimension_whose_codelist_lacks_its_default_is_refused_at_load()
    {
        var catalog = CatalogueTwoShape.Build();
        var basis = catalog.Codelists.Single(c => c.Id == "CL_COUNT_BASIS");
        basis.Codes.Remove(basis.Codes.Single(c => c.Id == "PERSONS"));
        Assert.Contains("'PERSONS'", Assert.Throws<InvalidDataException>(() => new StandardCatalogue(catalog)).Message);
    }
}
