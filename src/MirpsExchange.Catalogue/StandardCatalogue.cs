using System.Collections.Frozen;
using System.Security.Cryptography;
using Google.Protobuf;
using Mirps.Catalog.V1;
using Mirps.Log;

namespace MirpsExchange.Catalogue;

/// <summary>
/// The catalogue a process works with, checked for consistency when loaded, with fast look-ups for
/// validation. <see cref="LoadStandard"/> reads the standard catalogue shipped in this assembly
/// (Data/catalogue-v2.1.json, protobuf JSON of <see cref="Catalog"/>); <see cref="LoadVersion"/> reads an
/// earlier one still shipped (Data/catalogue-v1.json "1.0.0", Data/catalogue-v2.json "2.0.0"), for nodes and data
/// being upgraded. A released catalogue file is never edited: its digest is what nodes on it compare when they sync,
/// so a change (a new indicator) is a new version that declares how the earlier ones map to it (upgrades_from).
/// </summary>
public sealed class StandardCatalogue
{
    public const string SexDimension = "SEX";
    public const string AgeDimension = "AGE";
    public const string CountryOfOriginDimension = "COUNTRY_OF_ORIGIN";

    // Catalogue 2.0's dimensions: each has a default, what an observation that leaves it empty means.
    public const string ApplicationTypeDimension = "APPLICATION_TYPE";
    public const string DecisionLevelDimension = "DECISION_LEVEL";
    public const string ProcedureTypeDimension = "PROCEDURE_TYPE";
    public const string CountBasisDimension = "COUNT_BASIS";
    public const string CountryOfDestinationDimension = "COUNTRY_OF_DESTINATION";

    public const string ReportingCountryCodelist = "CL_MIRPS_STATE";

    /// <summary>The code of a dimension's total ("all sexes", "all ages", ...).</summary>
    public const string TotalCode = "_T";

    /// <summary>The version <see cref="LoadStandard"/> loads.</summary>
    public const string StandardVersion = "2.1.0";

    /// <summary>The catalogue versions shipped in this assembly, oldest first, with their resource names.</summary>
    public static readonly IReadOnlyDictionary<string, string> ShippedVersions = new Dictionary<string, string>
    {
        ["1.0.0"] = "catalogue-v1.json",
        ["2.0.0"] = "catalogue-v2.json",
        ["2.1.0"] = "catalogue-v2.1.json",
    };

    /// <summary>
    /// The dimensions observations carry, in the order of their fields (Observation 4..6, then 10..14).
    /// A dimension's observation field is its id in lower case (<see cref="FieldOf"/>).
    /// </summary>
    public static readonly IReadOnlyList<string> ObservationDimensions = [SexDimension, AgeDimension, CountryOfOriginDimension, .. AddedDimensions.DimensionIds];

    /// <summary>The attributes observations carry and their fields (catalogue 2.0 declares them in <see cref="Catalog.Attributes"/>).</summary>
    public static readonly IReadOnlyDictionary<string, string> ObservationAttributes = new Dictionary<string, string>
    {
        ["OBS_STATUS"] = "status",
        ["CONF_STATUS"] = "confidentiality",
        ["LOWER_BOUND"] = "lower_bound",
        ["SYNTHETIC"] = "synthetic",
    };

    /// <summary>The ratio of UNHCR's refugee recognition rate in catalogue 2.0.</summary>
    public const string RecognitionRate = "REFUGEE_RECOGNITION_RATE";

    /// <summary>The ratio of UNHCR's total protection rate in catalogue 2.0.</summary>
    public const string TotalProtectionRate = "TOTAL_PROTECTION_RATE";

    private readonly FrozenDictionary<string, IndicatorRule> _indicators;
    private readonly FrozenDictionary<string, FrozenSet<string>> _codelists;
    private readonly FrozenDictionary<string, DimensionRule> _dimensions;
    private readonly FrozenDictionary<string, Ratio> _ratios;

    public StandardCatalogue(Catalog catalog)
    {
        var problems = CatalogueCheck.Problems(catalog);
        if (problems.Count > 0)
        {
            throw new InvalidDataException(
                $"Catalogue {catalog.Version} is inconsistent:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", problems));
        }
        Catalog = catalog;
        Digest = Convert.ToHexStringLower(SHA256.HashData(catalog.ToByteArray()));
        _codelists = catalog.Codelists.ToFrozenDictionary(c => c.Id, c => c.Codes.Select(code => code.Id).ToFrozenSet(StringComparer.Ordinal));
        _dimensions = catalog.Dimensions.ToFrozenDictionary(
            d => d.Id,
            d => new DimensionRule(d, FieldOf(d.Id), _codelists[d.CodelistId], d.DefaultCode.Length == 0 ? null : d.DefaultCode),
            StringComparer.Ordinal);
        var units = catalog.Units.ToDictionary(u => u.Id);
        _indicators = catalog.Indicators.ToFrozenDictionary(
            i => i.Code,
            i => new IndicatorRule(
                i,
                units[i.UnitId].WholeNumbers,
                i.DimensionIds.Contains(SexDimension) ? _dimensions[SexDimension].Codes : null,
                i.DimensionIds.Contains(AgeDimension) ? _dimensions[AgeDimension].Codes : null,
                i.DimensionIds.Contains(CountryOfOriginDimension) ? _dimensions[CountryOfOriginDimension].Codes : null,
                [.. i.Granularities])
            {
                Dimensions = [.. i.DimensionIds.Select(id => _dimensions[id])],
                Added = [.. AddedDimensions.DimensionIds.Select(d => i.DimensionIds.Contains(d) ? _dimensions[d].Codes : null)],
            },
            StringComparer.Ordinal);
        _ratios = catalog.Ratios.ToFrozenDictionary(r => r.Id, StringComparer.Ordinal);
        ReportingCountries = _codelists[ReportingCountryCodelist];
    }

    public Catalog Catalog { get; }

    /// <summary>Lower-case hex SHA-256 of the catalogue's protobuf binary encoding.</summary>
    public string Digest { get; }

    public string Version => Catalog.Version;

    /// <summary>The MIRPS States, the only countries that report.</summary>
    public FrozenSet<string> ReportingCountries { get; }

    public IndicatorRule? FindIndicator(string code) => _indicators.GetValueOrDefault(code);

    /// <summary>A dimension the catalogue defines, with its observation field, codes and default; null when it defines none by that id.</summary>
    public DimensionRule? FindDimension(string id) => _dimensions.GetValueOrDefault(id);

    /// <summary>A ratio the catalogue defines (<see cref="RecognitionRate"/>, ...); null when it defines none by that id (catalogue 1.0 defines none).</summary>
    public Ratio? FindRatio(string id) => _ratios.GetValueOrDefault(id);

    public FrozenSet<string> Codelist(string id) => _codelists[id];

    /// <summary>The codes of a dimension (<see cref="SexDimension"/>, ...): its codelist's; empty when the catalogue does not define it.</summary>
    public FrozenSet<string> DimensionCodes(string dimension) => _dimensions.GetValueOrDefault(dimension)?.Codes ?? FrozenSet<string>.Empty;

    /// <summary>The observation field that carries a dimension's value: SEX -> sex, COUNT_BASIS -> count_basis.</summary>
    public static string FieldOf(string dimensionId) => dimensionId.ToLowerInvariant();

    /// <summary>
    /// Catalogue 2.0's dimensions of an observation of <paramref name="indicatorCode"/> as a node stores them: a
    /// declared dimension left empty takes its default (so a key has one spelling), the others are kept as given.
    /// </summary>
    public AddedDimensions Normalised(string indicatorCode, AddedDimensions given) =>
        FindIndicator(indicatorCode) is { } rule ? rule.Normalised(given) : given;

    /// <summary>The standard catalogue, <see cref="StandardVersion"/>.</summary>
    public static StandardCatalogue LoadStandard() => LoadVersion(StandardVersion);

    /// <summary>A catalogue version shipped in this assembly (<see cref="ShippedVersions"/>), for example "1.0.0" to read or map data of that version.</summary>
    public static StandardCatalogue LoadVersion(string version)
    {
        if (!ShippedVersions.TryGetValue(version, out var resource))
        {
            throw new ArgumentException($"No catalogue {version} is shipped (shipped: {string.Join(", ", ShippedVersions.Keys)}).", nameof(version));
        }
        using var stream = typeof(StandardCatalogue).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The catalogue resource {resource} is missing from the build.");
        using var reader = new StreamReader(stream);
        return Parse(reader.ReadToEnd());
    }

    /// <summary>Parses protobuf JSON of a <see cref="Catalog"/>; unknown fields are refused.</summary>
    public static StandardCatalogue Parse(string json) =>
        new(new JsonParser(JsonParser.Settings.Default.WithIgnoreUnknownFields(false)).Parse<Catalog>(json));
}

/// <summary>What validation needs to know about one indicator.</summary>
public sealed record IndicatorRule(
    Indicator Indicator,
    bool WholeNumbers,
    FrozenSet<string>? Sexes,
    FrozenSet<string>? Ages,
    FrozenSet<string>? CountriesOfOrigin,
    FrozenSet<PeriodGranularity> Granularities)
{
    /// <summary>The dimensions the indicator declares, in the catalogue's order.</summary>
    public IReadOnlyList<DimensionRule> Dimensions { get; init; } = [];

    /// <summary>The codes of catalogue 2.0's dimensions (<see cref="AddedDimensions.DimensionIds"/> order), null for one the indicator does not declare.</summary>
    public IReadOnlyList<FrozenSet<string>?> Added { get; init; } = new FrozenSet<string>?[AddedDimensions.Count];

    /// <summary>A declared dimension left empty takes its default; see <see cref="StandardCatalogue.Normalised"/>.</summary>
    public AddedDimensions Normalised(AddedDimensions given)
    {
        var added = Added;
        var normalised = given;
        for (var d = 0; d < AddedDimensions.Count; d++)
        {
            if (added[d] is not null && given[d].Length == 0)
            {
                normalised = normalised.With(d, AddedDimensions.Defaults[d]);
            }
        }
        return normalised;
    }

    /// <summary>The declared dimension <paramref name="id"/>; null when the indicator does not declare it.</summary>
    public DimensionRule? Dimension(string id)
    {
        foreach (var dimension in Dimensions)
        {
            if (dimension.Id == id)
            {
                return dimension;
            }
        }
        return null;
    }
}

/// <summary>
/// One dimension of the catalogue: the observation field carrying it (<see cref="Field"/>), its codes, and
/// its default: the code an observation that leaves the field empty means and is stored with (catalogue
/// 2.0's new dimensions: "_T", or "PERSONS" for COUNT_BASIS); null when the field must be filled.
/// </summary>
public sealed record DimensionRule(Dimension Dimension, string Field, FrozenSet<string> Codes, string? DefaultCode)
{
    public string Id => Dimension.Id;

    /// <summary>The code of "all of them" (<see cref="StandardCatalogue.TotalCode"/>); null for a dimension without one (COUNT_BASIS: persons and cases never add).</summary>
    public string? TotalCode => Codes.Contains(StandardCatalogue.TotalCode) ? StandardCatalogue.TotalCode : null;

    /// <summary>The code of the cell a headline figure reads: the total, or the default of a dimension without one.</summary>
    public string HeadlineCode => TotalCode ?? DefaultCode ?? throw new InvalidOperationException($"Dimension {Id} has neither a total nor a default.");

    /// <summary>The code an empty field stands for: the default, or "" for a required dimension (which an empty field leaves invalid).</summary>
    public string Resolve(string value) => value.Length == 0 && DefaultCode is not null ? DefaultCode : value;
}
