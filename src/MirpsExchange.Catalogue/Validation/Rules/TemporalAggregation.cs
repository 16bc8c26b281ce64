using Mirps.Catalog.V1;

namespace MirpsExchange.Catalogue.Validation.Rules;

/// <summary>How an indicator's values over shorter periods make its value over a longer one.</summary>
public enum TemporalAggregation
{
    /// <summary>Not comparable over time (a median, an average): the temporal rule does not judge it.</summary>
    None,

    /// <summary>A flow: the year is the sum of its quarters and of its months, a quarter the sum of its months.</summary>
    Sum,

    /// <summary>A stock: the year is its last quarter and its December, a quarter its last month.</summary>
    Last,
}

public static class TemporalAggregations
{
    /// <summary>
    /// The one place an indicator's temporal aggregation is decided. Until the catalogue declares a temporal
    /// rule per indicator (catalogue 2.0), it follows from the indicator's kind: a flow sums, a stock takes
    /// the last period, a statistic does neither. Switch to the declared rule here.
    /// </summary>
    public static TemporalAggregation Of(Indicator indicator) => indicator.Kind switch
    {
        IndicatorKind.Flow => TemporalAggregation.Sum,
        IndicatorKind.Stock => TemporalAggregation.Last,
        _ => TemporalAggregation.None,
    };
}
