using Mirps.Catalog.V1;

namespace MirpsExchange.Catalogue.Validation.Rules;

public static class TemporalAggregations
{
    /// <summary>
    /// The one place an indicator's temporal rule is read: the rule catalogue 2.0 declares (<see cref="Indicator.TemporalAggregation"/>),
    /// or for catalogue 1.0, which declares none, the one its kind implies (<see cref="CatalogueCheck.TemporalRuleOf"/>):
    /// a flow sums, a stock takes the end of the period, a statistic does neither.
    /// </summary>
    public static TemporalAggregation Of(Indicator indicator) =>
        indicator.TemporalAggregation != TemporalAggregation.Unspecified ? indicator.TemporalAggregation : CatalogueCheck.TemporalRuleOf(indicator.Kind);
}
