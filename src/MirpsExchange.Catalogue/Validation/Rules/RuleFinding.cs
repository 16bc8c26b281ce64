using System.Globalization;
using Mirps.Catalog.V1;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue.Periods;

namespace MirpsExchange.Catalogue.Validation.Rules;

/// <summary>One term of a rule's side: a cell (null when missing, counted as 0) and its key.</summary>
public readonly record struct RuleTerm(string Indicator, Period Period, string[] Dimensions, RuleCell? Cell, bool Subtracted = false)
{
    public static RuleTerm Of(RuleCell cell, bool subtracted = false) => new(cell.Indicator, cell.Period, cell.Dimensions, cell, subtracted);

    public double Value => Cell?.Value ?? 0;
}

/// <summary>
/// A broken rule: both sides' terms and sums, and the right side's cell it is reported under. Its sentence is
/// written only when asked for (a report lists the first findings; the others are counted).
/// </summary>
public sealed class RuleFinding(
    ValidationRule rule, string country, string indicator, Period period,
    double left, double right, IReadOnlyList<RuleTerm> leftTerms, IReadOnlyList<RuleTerm> rightTerms, Func<string> describe)
{
    private string? _message;

    public ValidationRule Rule { get; } = rule;
    public string Country { get; } = country;
    public string Indicator { get; } = indicator;
    public Period Period { get; } = period;
    public double Left { get; } = left;
    public double Right { get; } = right;
    public IReadOnlyList<RuleTerm> LeftTerms { get; } = leftTerms;
    public IReadOnlyList<RuleTerm> RightTerms { get; } = rightTerms;

    /// <summary>The finding in one English sentence, starting with the rule's id.</summary>
    public string Message => _message ??= $"{Rule.Id}: {describe()}";

    public bool IsError => Rule.Severity == RuleSeverity.Error;

    /// <summary>Errors first, then by period, rule and indicator: the order reports list them in.</summary>
    public static int Compare(RuleFinding x, RuleFinding y)
    {
        var c = y.IsError.CompareTo(x.IsError);
        if (c == 0) c = string.CompareOrdinal(x.Country, y.Country);
        if (c == 0) c = x.Period.Start.CompareTo(y.Period.Start);
        if (c == 0) c = x.Period.Granularity.CompareTo(y.Period.Granularity);
        if (c == 0) c = string.CompareOrdinal(x.Rule.Id, y.Rule.Id);
        if (c == 0) c = string.CompareOrdinal(x.Indicator, y.Indicator);
        if (c == 0) c = CompareDimensions(Anchor(x), Anchor(y));
        return c;
    }

    /// <summary>The cell a finding is about: the right side's first (a total, a stock, a year), else the left side's.</summary>
    private static string[] Anchor(RuleFinding f) => f.RightTerms.Count > 0 ? f.RightTerms[0].Dimensions : f.LeftTerms[0].Dimensions;

    private static int CompareDimensions(string[] x, string[] y)
    {
        for (var i = 0; i < x.Length && i < y.Length; i++)
        {
            var c = string.CompareOrdinal(x[i], y[i]);
            if (c != 0)
            {
                return c;
            }
        }
        return x.Length.CompareTo(y.Length);
    }

    public ValidationResult ToResult()
    {
        var result = new ValidationResult
        {
            RuleId = Rule.Id,
            Severity = Rule.Severity,
            Country = Country,
            Period = Period.ToString(),
            IndicatorCode = Indicator,
            Operator = Rule.Operator == RuleOperator.Unspecified ? RuleOperator.Equal : Rule.Operator,
            LeftValue = Left,
            RightValue = Right,
            Message = Message,
        };
        result.LeftCells.Add(LeftTerms.Select(Cell));
        result.RightCells.Add(RightTerms.Select(Cell));
        return result;
    }

    /// <summary>The first observation of the request among the cells (every finding reported has one), or -1.</summary>
    public int FirstObservationIndex() =>
        LeftTerms.Concat(RightTerms).Where(t => t.Cell is { InRequest: true }).Select(t => t.Cell!.ObservationIndex).DefaultIfEmpty(-1).Min();

    private ValidationCell Cell(RuleTerm term)
    {
        var cell = new ValidationCell
        {
            Key = ObservationDimensionFields.Key(term.Indicator, Country, term.Period.ToString(), term.Dimensions),
            Value = term.Value,
            Missing = term.Cell is null,
            Subtracted = term.Subtracted,
        };
        if (term.Cell is { InRequest: true } c)
        {
            cell.ObservationIndex = c.ObservationIndex;
        }
        return cell;
    }

    internal static string Number(double value) => value.ToString("#,0.##", CultureInfo.InvariantCulture);
}
