using Microsoft.Extensions.Options;
using Mirps.Catalog.V1;
using Mirps.Regional.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Periods;

namespace MirpsExchange.Secretariat.Regional;

/// <summary>Configuration section "Calendar": the Secretariat's reporting calendar.</summary>
public sealed class CalendarOptions
{
    public const string Section = "Calendar";

    /// <summary>
    /// One rule per indicator group and granularity: Calendar:Rules:0:GroupId=POPULATIONS, :Granularity=quarter,
    /// :DueDays=45, :Extensions:PAN=15 (15 more days for Panama).
    /// </summary>
    public List<CalendarRuleOptions> Rules { get; set; } = [];
}

public sealed class CalendarRuleOptions
{
    public string GroupId { get; set; } = "";

    /// <summary>year, quarter or month.</summary>
    public string Granularity { get; set; } = "";

    /// <summary>Days after the period's last day by which a State's approval is due (the whole day, UTC).</summary>
    public int DueDays { get; set; }

    /// <summary>More days for some States, by ISO3 code.</summary>
    public Dictionary<string, int> Extensions { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>
/// The reporting calendar the Secretariat publishes (RegionalService.GetReportingCalendar), checked at start-up: an unknown
/// group, granularity or State, a negative number of days or two rules for one group and granularity stop the Secretariat
/// with a message naming the key.
/// </summary>
public sealed class ReportingCalendar
{
    private readonly Dictionary<(string Group, PeriodGranularity Granularity), CalendarRule> _rules = [];

    public ReportingCalendar(IOptions<CalendarOptions> options, StandardCatalogue catalogue)
    {
        var groups = catalogue.Catalog.IndicatorGroups.Select(g => g.Id).ToHashSet();
        for (var i = 0; i < options.Value.Rules.Count; i++)
        {
            var rule = options.Value.Rules[i];
            var key = $"Configuration key {CalendarOptions.Section}:Rules:{i}";
            if (!groups.Contains(rule.GroupId))
            {
                throw new InvalidOperationException($"{key}:GroupId: '{rule.GroupId}' is not an indicator group of catalogue {catalogue.Version} ({string.Join(", ", groups)}).");
            }
            var granularity = rule.Granularity.Trim().ToLowerInvariant() switch
            {
                "year" => PeriodGranularity.Year,
                "quarter" => PeriodGranularity.Quarter,
                "month" => PeriodGranularity.Month,
                _ => throw new InvalidOperationException($"{key}:Granularity must be year, quarter or month; got '{rule.Granularity}'."),
            };
            if (rule.DueDays < 0 || rule.Extensions.Values.Any(d => d < 0))
            {
                throw new InvalidOperationException($"{key}: DueDays and Extensions are days, 0 or more.");
            }
            if (rule.Extensions.Keys.FirstOrDefault(c => !catalogue.ReportingCountries.Contains(c)) is { } unknown)
            {
                throw new InvalidOperationException($"{key}:Extensions: '{unknown}' is not a MIRPS State.");
            }
            var message = new CalendarRule { GroupId = rule.GroupId, Granularity = granularity, DueDays = rule.DueDays };
            message.Extensions.AddRange(rule.Extensions.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => new CalendarExtension { Country = e.Key, ExtraDays = e.Value }));
            if (!_rules.TryAdd((rule.GroupId, granularity), message))
            {
                throw new InvalidOperationException($"{key}: a second rule for {rule.GroupId} by {rule.Granularity}.");
            }
        }
    }

    public IEnumerable<CalendarRule> Rules => _rules.Values.OrderBy(r => r.GroupId, StringComparer.Ordinal).ThenBy(r => r.Granularity);

    public CalendarRule? RuleFor(string group, PeriodGranularity granularity) => _rules.GetValueOrDefault((group, granularity));

    /// <summary>The day by whose end <paramref name="country"/>'s approval of <paramref name="group"/> and <paramref name="period"/> is due, or null: no rule.</summary>
    public DateOnly? DueDate(string country, string group, Period period) =>
        RuleFor(group, period.Granularity) is { } rule
            ? period.End.AddDays(rule.DueDays + (rule.Extensions.FirstOrDefault(e => e.Country == country)?.ExtraDays ?? 0))
            : null;

    /// <summary>
    /// Whether an approval first recorded at <paramref name="approvedMicros"/> (null: none) of a cell due on <paramref name="due"/>
    /// is on time, late or, without one, overdue or not due at <paramref name="nowMicros"/>; with the days late.
    /// </summary>
    public static (Timeliness Timeliness, int DaysLate) Judge(DateOnly due, long? approvedMicros, long nowMicros)
    {
        var end = new DateTimeOffset(due.AddDays(1).ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        int DaysAfter(long micros) => (int)Math.Ceiling((DateTimeOffset.UnixEpoch.AddTicks(micros * 10) - end).TotalDays);
        return approvedMicros is { } approved
            ? DaysAfter(approved) <= 0 ? (Timeliness.OnTime, 0) : (Timeliness.Late, DaysAfter(approved))
            : DaysAfter(nowMicros) <= 0 ? (Timeliness.NotDue, 0) : (Timeliness.Overdue, DaysAfter(nowMicros));
    }
}
