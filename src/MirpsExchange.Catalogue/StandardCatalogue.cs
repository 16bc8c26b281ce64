using System.Collections.Frozen;
using System.Security.Cryptography;
using Google.Protobuf;
using Mirps.Catalog.V1;
using Mirps.Log;

namespace MirpsExchange.Catalogue;

/// <summary>
/// The catalogue a process works with, checked for consistency when loaded, with fast look-ups for
/// validation. <see cref="LoadStandard"/> reads the standard catalogue shipped in this assembly
/// (Data/catalogue-v1.json, protobuf JSON of <see cref="Catalog"/>).
/// </summary>
public sealed class StandardCatalogue
{
    public const string SexDimension = "SEX";
    public const string AgeDimension = "AGE";
    public const string CountryOfOriginDimension = "COUNTRY_OF_ORIGIN";
    public const string ReportingCountryCodelist = "CL_MIRPS_STATE";

    /// <summary>The dimensions observations carry, in the order of their fields (catalogue 2.0's last: <see cref="AddedDimensions.DimensionIds"/>).</summary>
    public static readonly IReadOnlyList<string> ObservationDimensions = [SexDimension, AgeDimension, CountryOfOriginDimension, .. AddedDimensions.DimensionIds];

    private readonly FrozenDictionary<string, IndicatorRule> _indicators;
    private readonly FrozenDictionary<string, FrozenSet<string>> _codelists;
    private readonly FrozenDictionary<string, FrozenSet<string>> _dimensionCodes;

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
        var dimensionCodelists = catalog.Dimensions.ToDictionary(d => d.Id, d => _codelists[d.CodelistId]);
        _dimensionCodes = dimensionCodelists.ToFrozenDictionary(StringComparer.Ordinal);
        var units = catalog.Units.ToDictionary(u => u.Id);
        _indicators = catalog.Indicators.ToFrozenDictionary(
            i => i.Code,
            i => new IndicatorRule(
                i,
                units[i.UnitId].WholeNumbers,
                i.DimensionIds.Contains(SexDimension) ? dimensionCodelists[SexDimension] : null,
                i.DimensionIds.Contains(AgeDimension) ? dimensionCodelists[AgeDimension] : null,
                i.DimensionIds.Contains(CountryOfOriginDimension) ? dimensionCodelists[CountryOfOriginDimension] : null,
                [.. i.Granularities])
            {
                Added = [.. AddedDimensions.DimensionIds.Select(d => i.DimensionIds.Contains(d) ? dimensionCodelists[d] : null)],
            },
            StringComparer.Ordinal);
        ReportingCountries = _codelists[ReportingCountryCodelist];
        for (var d = 0; d < AddedDimensions.Count; d++)
        {
            // An empty value of a declared dimension means its default: the default must be one of its codes.
            if (dimensionCodelists.TryGetValue(AddedDimensions.DimensionIds[d], out var codes) && !codes.Contains(AddedDimensions.Defaults[d]))
            {
                throw new InvalidDataException(
                    $"Catalogue {catalog.Version}: dimension {AddedDimensions.DimensionIds[d]}'s codelist lacks its default code '{AddedDimensions.Defaults[d]}'");
            }
        }
    }

    public Catalog Catalog { get; }

    /// <summary>Lower-case hex SHA-256 of the catalogue's protobuf binary encoding.</summary>
    public string Digest { get; }

    public string Version => Catalog.Version;

    /// <summary>The MIRPS States, the only countries that report.</summary>
    public FrozenSet<string> ReportingCountries { get; }

    public IndicatorRule? FindIndicator(string code) => _indicators.GetValueOrDefault(code);

    public FrozenSet<string> Codelist(string id) => _codelists[id];

    /// <summary>The codes of a dimension (<see cref="SexDimension"/>, ...): its codelist's; empty when the catalogue does not define it.</summary>
    public FrozenSet<string> DimensionCodes(string dimension) => _dimensionCodes.GetValueOrDefault(dimension) ?? FrozenSet<string>.Empty;

    /// <summary>
    /// Catalogue 2.0's dimensions of an observation of <paramref name="indicatorCode"/> as a node stores them: a
    /// declared dimension left empty takes its default (so a key has one spelling), the others are kept as given.
    /// </summary>
    public AddedDimensions Normalised(string indicatorCode, AddedDimensions given) =>
        FindIndicator(indicatorCode) is { } rule ? rule.Normalised(given) : given;

    public static StandardCatalogue LoadStandard()
    {
        using var stream = typeof(StandardCatalogue).Assembly.GetManifestResourceStream("catalogue-v1.json")
            ?? throw new InvalidOperationException("The standard catalogue resource is missing from the build.");
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
    /// <summary>The codes of catalogue 2.0's dimensions (<see cref="AddedDimensions.DimensionIds"/> order), null for one the indicator does not declare.</summary>
    public IReadOnlyList<FrozenSet<string>?> Added { get; init; } = new FrozenSet<string>?[AddedDimensions.Count];

    /// <summary>A declared dimension left empty takes its default; see <see cref="StandardCatalogue.Normalised"/>.</summary>
    public AddedDimensions Normalised(AddedDimensions given)
    {
        var normalised = given;
        for (var d = 0; d < AddedDimensions.Count; d++)
        {
            if (Added[d] is not null && given[d].Length == 0)
            {
                normalised = normalised.With(d, AddedDimensions.Defaults[d]);
            }
        }
        return normalised;
    }
}
