using System.Globalization;
using Grpc.Core;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue.Validation.Rules;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Rules;

/// <summary>Broken rules as the wire carries them: a report's listed results, a submit's warnings, a refusal's details.</summary>
public static class RuleReports
{
    /// <summary>Most results listed in one answer (each carries its cells); the counts say how many there were.</summary>
    public const int MaxListed = 100;

    /// <summary>Most broken rules named in a refusal's details, which travel in a trailer.</summary>
    public const int MaxInRefusal = 20;

    public const string RuleFailedReason = "VALIDATION_RULE_FAILED";

    public static IEnumerable<ValidationResult> Listed(IEnumerable<RuleFinding> findings, int max = MaxListed) =>
        findings.Take(max).Select(f => f.ToResult());

    /// <summary>
    /// INVALID_ARGUMENT for a request that breaks ERROR rules: an ErrorInfo (reason VALIDATION_RULE_FAILED, the rule
    /// ids and the count in its metadata) and one field violation per broken rule, on the first observation of the
    /// request it involves, naming the rule, both sides' values and the cells; or null when none is an error.
    /// </summary>
    public static RpcException? Refusal(IReadOnlyList<RuleFinding> findings)
    {
        var errors = findings.Where(f => f.IsError).ToList();
        if (errors.Count == 0)
        {
            return null;
        }
        var violations = errors.Take(MaxInRefusal).Select(f => ($"observations[{f.FirstObservationIndex()}]", Describe(f))).ToList();
        if (errors.Count > MaxInRefusal)
        {
            violations.Add(("observations", $"and {errors.Count - MaxInRefusal:N0} more broken rules not listed (ValidateObservations returns the full report)"));
        }
        var rules = string.Join(",", errors.Select(f => f.Rule.Id).Distinct());
        var message = $"the observations break {errors.Count:N0} validation rule(s) of the catalogue ({rules}); nothing was written. First: {errors[0].Message}";
        return RpcErrors.InvalidArgument(message, violations, RuleFailedReason, new Dictionary<string, string>
        {
            ["rules"] = rules,
            ["errors"] = errors.Count.ToString(CultureInfo.InvariantCulture),
        });
    }

    /// <summary>The finding's sentence and its cells, the request's named by index: "REFUGEES 2023 F,_T,_T = 130 (observations[0])".</summary>
    public static string Describe(RuleFinding finding)
    {
        const int MaxCells = 8;
        var terms = finding.LeftTerms.Concat(finding.RightTerms).ToList();
        var cells = terms.Take(MaxCells).Select(t =>
            $"{(t.Subtracted ? "-" : "")}{t.Indicator} {t.Period} {string.Join(",", t.Dimensions.Where(d => d.Length > 0))} = " +
            (t.Cell is null ? "missing" : $"{t.Value.ToString(CultureInfo.InvariantCulture)} ({(t.Cell.InRequest ? $"observations[{t.Cell.ObservationIndex}]" : "stored")})"));
        var more = terms.Count > MaxCells ? $" and {terms.Count - MaxCells} more" : "";
        return $"{finding.Message}. Cells: {string.Join("; ", cells)}{more}";
    }
}
