using System.Buffers;
using Mirps.Catalog.V1;
using Mirps.Log;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue.Periods;

namespace MirpsExchange.Catalogue.Validation;

/// <summary>
/// The rules every observation and key must satisfy against the catalogue, shared by nodes (before
/// anything is written) and by clients (before anything is sent). Violations name the row and field.
/// </summary>
public sealed class ObservationValidator(StandardCatalogue catalogue)
{
    /// <summary>Most observations (or keys) in one submit or delete call.</summary>
    public const int MaxBatchSize = 10_000;

    public const int MaxNoteLength = 1_000;

    /// <summary>Whether the catalogue declares catalogue 2.0's attributes (1.0.0 declares none).</summary>
    private readonly bool _declaresAttributes = catalogue.Catalog.Attributes.Count > 0;

    /// <summary>
    /// Unicode category Cc but tab and line feed, and the characters that reorder or break text where it is
    /// shown (bidirectional embeddings, overrides and isolates; line and paragraph separators), which could
    /// make a note read differently in a table than it is stored. Searched vectorized: a replica checks every note it applies.
    /// </summary>
    private static readonly SearchValues<char> RefusedInNotes = SearchValues.Create(
        [.. Enumerable.Range(0, char.MaxValue + 1).Select(c => (char)c).Where(c => (char.IsControl(c) && c is not ('\t' or '\n'))
            || c is (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069') or '\u2028' or '\u2029')]);

    /// <summary>Most violations reported for one batch; the last one says how many more there were.</summary>
    public const int MaxReportedViolations = 100;

    public StandardCatalogue Catalogue => catalogue;

    /// <summary>
    /// Validates a batch of observations for one submit call: more than <see cref="MaxBatchSize"/> is refused
    /// with the single violation "observations". <paramref name="nodeCountry"/> is the only reporting country
    /// accepted (null: any MIRPS State). The parsed period of each valid row, and its catalogue 2.0 dimensions as
    /// the node stores them (a declared one sent empty at its default), are returned for the writer.
    /// </summary>
    public BatchValidation ValidateObservations(IReadOnlyList<Observation> observations, string? nodeCountry, DateOnly today) =>
        Validate(observations, "observations", MaxBatchSize, ObservationKeyOf, ValidateValue, nodeCountry, today);

    /// <summary>
    /// Validates any number of observations with the same row rules, a key repeated anywhere among them
    /// included, but without the batch-size rule: for a client checking a whole file before it splits it
    /// into calls of at most <see cref="MaxBatchSize"/>. Fields are named "observations[i]" as in a batch.
    /// </summary>
    public BatchValidation ValidateAllObservations(IReadOnlyList<Observation> observations, string? nodeCountry, DateOnly today) =>
        Validate(observations, "observations", maxCount: null, ObservationKeyOf, ValidateValue, nodeCountry, today);

    /// <summary>Validates the keys of a deletion batch with the same key rules as a submission.</summary>
    public BatchValidation ValidateKeys(IReadOnlyList<ObservationKey> keys, string? nodeCountry, DateOnly today) =>
        Validate(keys, "keys", MaxBatchSize, KeyTuple.From, validateRest: null, nodeCountry, today);

    /// <summary>Validates one key (for example of a history request); its fields are named under <paramref name="prefix"/>.</summary>
    public IReadOnlyList<Violation> ValidateKey(string prefix, ObservationKey? key)
    {
        var violations = new ViolationList(prefix);
        if (key is null)
        {
            violations.Add(prefix, "the key is required", "falta la clave");
            return violations.ToList();
        }
        var tuple = KeyTuple.From(key);
        ValidateKey(new RowName(prefix), ref tuple, nodeCountry: null, today: DateOnly.MaxValue, violations, out _);
        return violations.ToList();
    }

    /// <summary>
    /// Validates one change of another node's log with a submit's rules (a replica re-validates what it is
    /// sent): the key's rules, the value, status and note of a complete change, the status and note of one
    /// whose value is withheld from this node, the key alone of a deletion (as a delete call). The country
    /// must be <paramref name="origin"/>; <paramref name="today"/> is the date a period must have started by.
    /// Fields are named "observation.value" and so on.
    /// </summary>
    /// <param name="memo">The key last found valid by this caller (one per thread), or null: a part of the key equal to that
    /// key's, under the same indicator, is not looked up again. The outcome is the same either way.</param>
    public IReadOnlyList<Violation> ValidateChange(Observation observation, ChangeContent content, string origin, DateOnly today, ValidKeyMemo? memo = null)
    {
        const string Name = "observation";
        var violations = new ViolationList(Name);
        var prefix = new RowName(Name);
        var key = ObservationKeyOf(observation);
        var rule = ValidateKey(prefix, ref key, origin, content == ChangeContent.Deletion ? DateOnly.MaxValue : today, violations, out var period,
            memo is not null && memo.Holds(key.IndicatorCode, origin) ? memo : null);
        if (content == ChangeContent.Complete)
        {
            ValidateValue(prefix, observation, rule, violations);
        }
        else if (content == ChangeContent.ValueWithheld)
        {
            ValidateStatusAndNote(prefix, observation, violations);
        }
        if (memo is not null && violations.IsEmpty && rule is not null)
        {
            memo.Remember(rule, origin, key.Country, key.Period, period, key.Sex, key.Age, key.CountryOfOrigin, key.Added);
        }
        return violations.ToList();
    }

    /// <summary>
    /// The loop every batch shares: the size limit (when <paramref name="maxCount"/> is set), then per row
    /// its key (built once), the key rules, the rest of the row, and a key repeated from an earlier row.
    /// </summary>
    private BatchValidation Validate<T>(
        IReadOnlyList<T> items, string collection, int? maxCount, Func<T, KeyTuple> keyOf,
        Action<RowName, T, IndicatorRule?, ViolationList>? validateRest, string? nodeCountry, DateOnly today)
    {
        var violations = new ViolationList(collection);
        if (maxCount is { } max && items.Count > max)
        {
            violations.Add(collection, $"a batch holds at most {max:N0} {collection}; this one has {items.Count:N0}. Split it into several calls.",
                $"un envío admite como máximo {max:N0} filas; este tiene {items.Count:N0}. Divídalo en varios envíos.");
            return new BatchValidation(violations.ToList(), [], []);
        }
        var once = maxCount is null ? "each key appears once among all the rows, whatever batches they are sent in" : "a batch holds each key once";
        var onceEs = maxCount is null ? "cada clave aparece una sola vez entre todas las filas, sin importar en qué envíos lleguen" : "un envío contiene cada clave una sola vez";
        var periods = new Period[items.Count];
        var added = new AddedDimensions[items.Count];
        var seen = new Dictionary<KeyTuple, int>(items.Count);
        // The last valid key of the batch, as a replica's feed remembers it (ValidKeyMemo): rows come table by table, so a
        // row's parts equal to the row before's, under the same indicator, are not looked up again. The outcome is the same.
        var memo = nodeCountry is null ? null : new ValidKeyMemo();
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            var prefix = new RowName(collection, i); // spelled out only for a violation
            var key = keyOf(item);
            var before = violations.Count;
            var rule = ValidateKey(prefix, ref key, nodeCountry, today, violations, out periods[i],
                memo is not null && memo.Holds(key.IndicatorCode, nodeCountry!) ? memo : null);
            if (memo is not null && rule is not null && violations.Count == before)
            {
                memo.Remember(rule, nodeCountry!, key.Country, key.Period, periods[i], key.Sex, key.Age, key.CountryOfOrigin, key.Added);
            }
            added[i] = key.Added;
            validateRest?.Invoke(prefix, item, rule, violations);
            if (!seen.TryAdd(key, i))
            {
                violations.Add(prefix.ToString(), $"the same key as {collection}[{seen[key]}] ({key}): {once}", $"la misma clave que {collection}[{seen[key]}] ({key}): {onceEs}");
            }
        }
        return new BatchValidation(violations.ToList(), periods, added);
    }

    private static KeyTuple ObservationKeyOf(Observation o) => new(o.IndicatorCode, o.Country, o.Period, o.Sex, o.Age, o.CountryOfOrigin, AddedDimensions.Of(o));

    /// <summary>
    /// Checks a key; a declared catalogue 2.0 dimension left empty is set to its default in <paramref name="key"/> (one spelling per key).
    /// <paramref name="memo"/>: a valid key of the same indicator and node country (<see cref="ValidKeyMemo.Holds"/>), whose equal parts are valid.
    /// </summary>
    private IndicatorRule? ValidateKey(RowName prefix, ref KeyTuple key, string? nodeCountry, DateOnly today, ViolationList violations, out Period period,
        ValidKeyMemo? memo = null)
    {
        period = default;
        IndicatorRule? rule = null;
        if (memo is not null)
        {
            rule = memo.Rule;
        }
        else if (string.IsNullOrEmpty(key.IndicatorCode))
        {
            violations.Add($"{prefix}.indicator_code", "the indicator code is required", "falta el código del indicador");
        }
        else if ((rule = catalogue.FindIndicator(key.IndicatorCode)) is null)
        {
            violations.Add($"{prefix}.indicator_code", $"unknown indicator '{key.IndicatorCode}' (catalogue {catalogue.Version}; CatalogService.GetCatalog lists the indicators)",
                $"indicador desconocido '{key.IndicatorCode}' (catálogo {catalogue.Version}; la plantilla y el catálogo listan los indicadores)");
        }

        if (memo is not null && string.Equals(key.Country, memo.Country, StringComparison.Ordinal))
        {
            // a reporting country, and the node's, as the remembered key's
        }
        else if (string.IsNullOrEmpty(key.Country))
        {
            violations.Add($"{prefix}.country", "the reporting country is required (ISO 3166-1 alpha-3 of a MIRPS State)", "falta el país que reporta (ISO 3166-1 alfa-3 de un Estado MIRPS)");
        }
        else if (!catalogue.ReportingCountries.Contains(key.Country))
        {
            violations.Add($"{prefix}.country", $"'{key.Country}' is not a MIRPS State ({string.Join(", ", catalogue.ReportingCountries.Order(StringComparer.Ordinal))})",
                $"'{key.Country}' no es un Estado MIRPS ({string.Join(", ", catalogue.ReportingCountries.Order(StringComparer.Ordinal))})");
        }
        else if (nodeCountry is not null && key.Country != nodeCountry)
        {
            violations.Add($"{prefix}.country", $"this node holds {nodeCountry}'s data and accepts only observations reported by {nodeCountry}; {key.Country}'s figures go to {key.Country}'s own node",
                $"este nodo guarda los datos de {nodeCountry} y solo acepta observaciones reportadas por {nodeCountry}; las cifras de {key.Country} van al nodo de {key.Country}");
        }

        var knownPeriod = memo is not null && string.Equals(key.Period, memo.Period, StringComparison.Ordinal);
        if (knownPeriod)
        {
            period = memo!.Parsed; // a period of one of the indicator's granularities, as the remembered key's
        }
        if (knownPeriod)
        {
            if (period.Start > today)
            {
                violations.Add($"{prefix}.period", $"period {key.Period} has not started yet (it starts on {period.Start:yyyy-MM-dd})",
                    $"el período {key.Period} aún no ha comenzado (comienza el {period.Start:yyyy-MM-dd})");
            }
        }
        else if (string.IsNullOrEmpty(key.Period))
        {
            violations.Add($"{prefix}.period", $"the period is required: {Period.Format}", $"falta el período: {Period.Format}");
        }
        else if (!Period.TryParse(key.Period, out period))
        {
            violations.Add($"{prefix}.period", $"'{key.Period}' is not {Period.Format}", $"'{key.Period}' no es un período válido: {Period.Format}");
        }
        else if (rule is not null && !rule.Granularities.Contains(period.Granularity))
        {
            violations.Add($"{prefix}.period", $"{rule.Indicator.Code} is reported by {string.Join(" or ", rule.Indicator.Granularities.Select(Name))}; '{key.Period}' is a {Name(period.Granularity)}",
                $"{rule.Indicator.Code} se reporta por {string.Join(" o ", rule.Indicator.Granularities.Select(NameEs))}; '{key.Period}' es un {NameEs(period.Granularity)}");
        }
        else if (period.Start > today)
        {
            violations.Add($"{prefix}.period", $"period {key.Period} has not started yet (it starts on {period.Start:yyyy-MM-dd})",
                    $"el período {key.Period} aún no ha comenzado (comienza el {period.Start:yyyy-MM-dd})");
        }

        if (rule is not null)
        {
            if (memo is null || !string.Equals(key.Sex, memo.Sex, StringComparison.Ordinal))
            {
                CheckDimension(prefix, "sex", StandardCatalogue.SexDimension, key.Sex, rule.Sexes, rule, violations);
            }
            if (memo is null || !string.Equals(key.Age, memo.Age, StringComparison.Ordinal))
            {
                CheckDimension(prefix, "age", StandardCatalogue.AgeDimension, key.Age, rule.Ages, rule, violations);
            }
            if (memo is null || !string.Equals(key.CountryOfOrigin, memo.CountryOfOrigin, StringComparison.Ordinal))
            {
                CheckDimension(prefix, "country_of_origin", StandardCatalogue.CountryOfOriginDimension, key.CountryOfOrigin, rule.CountriesOfOrigin, rule, violations);
            }
            key = key with { Added = rule.Normalised(key.Added) };
            for (var d = 0; d < AddedDimensions.Count; d++)
            {
                if (memo is null || !string.Equals(key.Added[d], memo.Added[d], StringComparison.Ordinal))
                {
                    CheckDimension(prefix, AddedDimensions.FieldNames[d], AddedDimensions.DimensionIds[d], key.Added[d], rule.Added[d], rule, violations);
                }
            }
        }
        return rule;
    }

    private static void CheckDimension(RowName prefix, string field, string dimension, string value, IReadOnlySet<string>? codes, IndicatorRule rule, ViolationList violations)
    {
        if (codes is null)
        {
            if (value.Length > 0)
            {
                violations.Add($"{prefix}.{field}", $"{rule.Indicator.Code} does not declare the {dimension} dimension; leave {field} empty (got '{value}')",
                    $"{rule.Indicator.Code} no declara la dimensión {dimension}; deje {field} vacío (tiene '{value}')");
            }
        }
        else if (value.Length == 0)
        {
            violations.Add($"{prefix}.{field}", $"{rule.Indicator.Code} declares the {dimension} dimension: {field} is required (use _T for the total)",
                $"{rule.Indicator.Code} declara la dimensión {dimension}: {field} es obligatorio (use _T para el total)");
        }
        else if (!codes.Contains(value))
        {
            var allowed = codes.Count <= 12 ? $" ({string.Join(", ", codes)})" : " (ISO 3166-1 alpha-3, _U for unknown, _T for total)";
            var allowedEs = codes.Count <= 12 ? allowed : " (ISO 3166-1 alfa-3, _U si se desconoce, _T para el total)";
            violations.Add($"{prefix}.{field}", $"'{value}' is not a code of the {dimension} dimension{allowed}", $"'{value}' no es un código de la dimensión {dimension}{allowedEs}");
        }
    }

    private void ValidateValue(RowName prefix, Observation o, IndicatorRule? rule, ViolationList violations)
    {
        if (!double.IsFinite(o.Value))
        {
            violations.Add($"{prefix}.value", $"the value must be a finite number, not {o.Value}", $"el valor debe ser un número finito, no {o.Value}");
        }
        else if (o.Value < 0)
        {
            violations.Add($"{prefix}.value", $"the value must not be negative ({o.Value})", $"el valor no puede ser negativo ({o.Value})");
        }
        else if (rule is { WholeNumbers: true } && o.Value != Math.Floor(o.Value))
        {
            violations.Add($"{prefix}.value", $"{rule.Indicator.Code} counts {rule.Indicator.UnitId.ToLowerInvariant()}: the value must be a whole number, not {o.Value}",
                $"{rule.Indicator.Code} cuenta {rule.Indicator.UnitId.ToLowerInvariant()}: el valor debe ser un número entero, no {o.Value}");
        }
        ValidateStatusAndNote(prefix, o, violations);
    }

    private void ValidateStatusAndNote(RowName prefix, Observation o, ViolationList violations)
    {
        if (o.Status == ObservationStatus.Unspecified)
        {
            violations.Add($"{prefix}.status", "the status is required: NORMAL, PROVISIONAL, ESTIMATED or CONFIDENTIAL", "falta el estado: NORMAL, PROVISIONAL, ESTIMATED o CONFIDENTIAL");
        }
        else if (!Enum.IsDefined(o.Status))
        {
            violations.Add($"{prefix}.status", $"unknown status {(int)o.Status}", $"estado desconocido {(int)o.Status}");
        }
        if (NoteProblems(o.Note) is { } problem)
        {
            violations.Add($"{prefix}.note", problem.English, problem.Spanish);
        }
        if (!Enum.IsDefined(o.Confidentiality))
        {
            violations.Add($"{prefix}.confidentiality", $"unknown confidentiality {(int)o.Confidentiality}: FREE, NOT_FOR_PUBLICATION or CONFIDENTIAL (UNSPECIFIED means free)",
                $"confidencialidad desconocida {(int)o.Confidentiality}: FREE, NOT_FOR_PUBLICATION o CONFIDENTIAL (UNSPECIFIED significa libre)");
        }
        // Catalogue 2.0's attributes exist only where the catalogue declares them: a node on catalogue 1.0.0 holds none.
        else if (!_declaresAttributes && (o.LowerBound || o.Confidentiality != ConfidentialityStatus.Unspecified || o.Synthetic))
        {
            var field = o.LowerBound ? "lower_bound" : o.Synthetic ? "synthetic" : "confidentiality";
            violations.Add($"{prefix}.{field}", $"catalogue {catalogue.Version} has no attribute {field} (catalogue 2.0 added LOWER_BOUND, CONF_STATUS and SYNTHETIC): leave it unset, or use a node on catalogue 2.0",
                $"el catálogo {catalogue.Version} no tiene el atributo {field} (el catálogo 2.0 agregó LOWER_BOUND, CONF_STATUS y SYNTHETIC): déjelo vacío, o use un nodo con el catálogo 2.0");
        }
    }

    /// <summary>
    /// What is wrong with a note, or null: at most <see cref="MaxNoteLength"/> characters, and no control
    /// character (Unicode category Cc: NUL, escape, backspace, carriage return, U+0080–U+009F…) but tab
    /// and line feed. A NUL cuts a C string short and other controls rewrite terminals and files that
    /// show the note; a line break is a line feed alone. Submits, files checked before sending and
    /// replicas applying another node's changes all ask this.
    /// </summary>
    public static string? NoteProblem(string note) => NoteProblems(note)?.English;

    /// <summary>
    /// Where <paramref name="text"/> holds a character the note rule refuses (a control character but tab and line feed,
    /// or a bidi formatting character), or -1. Free texts other than notes (approval reasons, actors) follow it too.
    /// </summary>
    public static int RefusedCharacterAt(string text) => text.AsSpan().IndexOfAny(RefusedInNotes);

    /// <summary><see cref="NoteProblem"/> in English and in Spanish.</summary>
    private static (string English, string Spanish)? NoteProblems(string note)
    {
        if (note.Length > MaxNoteLength)
        {
            return ($"the note holds at most {MaxNoteLength:N0} characters; this one has {note.Length:N0}",
                $"la nota admite como máximo {MaxNoteLength:N0} caracteres; esta tiene {note.Length:N0}");
        }
        var at = RefusedCharacterAt(note);
        return at < 0 ? null
            : char.IsControl(note[at])
                ? ($"the note holds the control character U+{(int)note[at]:X4} at position {at + 1:N0}; only tab and line feed (a line break is \\n, not \\r\\n) are allowed",
                    $"la nota contiene el carácter de control U+{(int)note[at]:X4} en la posición {at + 1:N0}; solo se admiten el tabulador y el salto de línea (\\n, no \\r\\n)")
                : ($"the note holds the formatting character U+{(int)note[at]:X4} at position {at + 1:N0}, which reorders or breaks text where it is shown",
                    $"la nota contiene el carácter de formato U+{(int)note[at]:X4} en la posición {at + 1:N0}, que reordena o corta el texto donde se muestra");
    }

    private static string Name(PeriodGranularity granularity) => granularity switch
    {
        PeriodGranularity.Year => "year",
        PeriodGranularity.Quarter => "quarter",
        PeriodGranularity.Month => "month",
        _ => "unspecified period",
    };

    private static string NameEs(PeriodGranularity granularity) => granularity switch
    {
        PeriodGranularity.Year => "año",
        PeriodGranularity.Quarter => "trimestre",
        PeriodGranularity.Month => "mes",
        _ => "período sin especificar",
    };

    /// <summary>
    /// A row's name in a violation ("observations[12]", or a plain prefix), spelled out only when a violation names it: a
    /// valid batch of 10,000 rows made 10,000 such strings for nothing.
    /// </summary>
    private readonly struct RowName(string collection, int index = -1) : ISpanFormattable
    {
        public override string ToString() => index < 0 ? collection : $"{collection}[{index}]";

        public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

        public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
            index < 0
                ? destination.TryWrite(provider, $"{collection}", out charsWritten)
                : destination.TryWrite(provider, $"{collection}[{index}]", out charsWritten);
    }

    private readonly record struct KeyTuple(string IndicatorCode, string Country, string Period, string Sex, string Age, string CountryOfOrigin, AddedDimensions Added)
    {
        public static KeyTuple From(ObservationKey k) => new(k.IndicatorCode, k.Country, k.Period, k.Sex, k.Age, k.CountryOfOrigin, AddedDimensions.Of(k));

        public override string ToString() => Added.ToString() is { Length: > 0 } added
            ? string.Join(", ", IndicatorCode, Country, Period, Sex, Age, CountryOfOrigin, added)
            : string.Join(", ", IndicatorCode, Country, Period, Sex, Age, CountryOfOrigin);
    }

    /// <summary>Collects violations up to <see cref="MaxReportedViolations"/>, then counts the rest.</summary>
    private sealed class ViolationList(string collection)
    {
        private readonly List<Violation> _items = [];
        private int _more;

        public void Add(string field, string description, string spanish)
        {
            if (_items.Count < MaxReportedViolations)
            {
                _items.Add(new Violation(field, description, spanish));
            }
            else
            {
                _more++;
            }
        }

        public bool IsEmpty => _items.Count == 0;

        /// <summary>Every violation added, listed or not.</summary>
        public int Count => _items.Count + _more;

        /// <summary>All violations when they fit; otherwise the first ones and a last line counting the rest.</summary>
        public List<Violation> ToList() => _more == 0
            ? _items
            : [.. _items.Take(MaxReportedViolations - 1), new Violation(collection, $"and {_more + 1:N0} more violations not listed", $"y {_more + 1:N0} problemas más no listados")];
    }
}

/// <summary>
/// The key a caller of <see cref="ObservationValidator.ValidateChange"/> last found valid: a replica re-validates every change
/// of a feed, and consecutive changes mostly repeat the indicator, country, period and most codes of the one before. A part
/// equal to the remembered key's, under the same indicator and node country, is valid as it was (whether a code, a period's
/// granularity or a country is allowed depends on nothing else), so it is not looked up again; a period's start is still
/// checked against the change's own date. Not thread-safe: one per thread.
/// </summary>
public sealed class ValidKeyMemo
{
    internal IndicatorRule? Rule { get; private set; }
    internal string? NodeCountry { get; private set; }
    internal string? Country { get; private set; }
    internal string? Period { get; private set; }
    internal Period Parsed { get; private set; }
    internal string? Sex { get; private set; }
    internal string? Age { get; private set; }
    internal string? CountryOfOrigin { get; private set; }
    internal AddedDimensions Added { get; private set; }

    /// <summary>Whether a key of <paramref name="indicatorCode"/> at the node of <paramref name="nodeCountry"/> may use what is remembered.</summary>
    internal bool Holds(string indicatorCode, string nodeCountry) =>
        Rule is not null && string.Equals(indicatorCode, Rule.Indicator.Code, StringComparison.Ordinal) && string.Equals(nodeCountry, NodeCountry, StringComparison.Ordinal);

    internal void Remember(IndicatorRule rule, string nodeCountry, string country, string period, Period parsed, string sex, string age, string countryOfOrigin, AddedDimensions added)
    {
        (Rule, NodeCountry, Country, Period, Parsed) = (rule, nodeCountry, country, period, parsed);
        (Sex, Age, CountryOfOrigin, Added) = (sex, age, countryOfOrigin, added);
    }
}

/// <summary>What a change of a node's log carries, for <see cref="ObservationValidator.ValidateChange"/>.</summary>
public enum ChangeContent
{
    /// <summary>A value, its status and note.</summary>
    Complete,

    /// <summary>A small count withheld from the reader: everything but the value.</summary>
    ValueWithheld,

    /// <summary>A deletion: the key alone.</summary>
    Deletion,
}

/// <summary>
/// The outcome of validating a batch: its violations (none when valid), each row's parsed period, and each row's
/// catalogue 2.0 dimensions as stored (a declared one sent empty at its default).
/// </summary>
public sealed record BatchValidation(IReadOnlyList<Violation> Violations, Period[] Periods, AddedDimensions[] Dimensions)
{
    public bool IsValid => Violations.Count == 0;
}
