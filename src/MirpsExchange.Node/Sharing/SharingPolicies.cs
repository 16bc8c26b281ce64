using Microsoft.Extensions.Options;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Sharing;

/// <summary>
/// The origin's configured policy of every indicator (Node:Sharing), checked at start-up: an unknown
/// indicator or State, or a negative threshold, stops the node with a message naming the key.
/// </summary>
public sealed class SharingPolicies
{
    private readonly Dictionary<string, RowPolicy> _byIndicator = new(StringComparer.Ordinal);
    private readonly RowPolicy _default;
    private readonly HashSet<string> _holdingDrafts = new(StringComparer.Ordinal);
    private readonly HashSet<string> _holdingFromSecretariat = new(StringComparer.Ordinal);
    private static readonly HashSet<string> None = [];

    public SharingPolicies(IOptions<NodeOptions> options, StandardCatalogue catalogue)
    {
        var sharing = options.Value.Sharing;
        _default = Resolve(sharing.Default, null, "Node:Sharing:Default", catalogue);
        foreach (var (code, rule) in sharing.Indicators)
        {
            if (catalogue.FindIndicator(code) is null)
            {
                throw new InvalidOperationException($"Configuration key Node:Sharing:Indicators:{code}: '{code}' is not an indicator of catalogue {catalogue.Version}.");
            }
            _byIndicator[code] = Resolve(rule, sharing.Default, $"Node:Sharing:Indicators:{code}", catalogue);
        }
        NarrowTotals(catalogue);
        foreach (var indicator in catalogue.Catalog.Indicators)
        {
            var drafts = For(indicator.Code).Drafts;
            if (drafts != DraftSharing.Unspecified)
            {
                _holdingDrafts.Add(indicator.Code);
                if (drafts != DraftSharing.Secretariat)
                {
                    _holdingFromSecretariat.Add(indicator.Code);
                }
            }
        }
    }

    /// <summary>
    /// A total the catalogue relates to other indicators (a components rule: DECISIONS_TOTAL against recognized + complementary +
    /// rejected) gives a withheld component away by subtraction, and complementary suppression works within one indicator only.
    /// So a total is shared with no State that may not read every component, never before the last component's release, and
    /// with the Secretariat alone when a component withholds small counts; it holds its drafts where a component does.
    /// </summary>
    private void NarrowTotals(StandardCatalogue catalogue)
    {
        foreach (var rule in catalogue.Catalog.ValidationRules)
        {
            if (rule.CheckCase != Mirps.Catalog.V1.ValidationRule.CheckOneofCase.Components
                || rule.Components.TotalIndicatorCode is not { Length: > 0 } total || rule.Components.ComponentIndicatorCodes.Contains(total))
            {
                continue;
            }
            var narrowed = For(total);
            foreach (var component in rule.Components.ComponentIndicatorCodes)
            {
                var policy = For(component);
                var readers = policy.SmallCountThreshold > 1 ? "" : Common(narrowed.Readers, policy.Readers);
                var release = narrowed.ReleaseTime is { } a && policy.ReleaseTime is { } b ? Math.Max(a, b) : narrowed.ReleaseTime ?? policy.ReleaseTime;
                narrowed = narrowed with { Readers = readers, ReleaseTime = release, Drafts = Stricter(narrowed.Drafts, policy.Drafts) };
            }
            _byIndicator[total] = narrowed;
        }
    }

    /// <summary>The States both reader lists name (<see cref="RowPolicy.Readers"/>' form).</summary>
    private static string Common(string left, string right) =>
        left == RowPolicy.AllStates ? right
        : right == RowPolicy.AllStates ? left
        : RowPolicy.Listed(left.Split(',', StringSplitOptions.RemoveEmptyEntries).Intersect(right.Split(',', StringSplitOptions.RemoveEmptyEntries), StringComparer.Ordinal), null, 0).Readers;

    /// <summary>The stricter of two draft holds: held from everyone but the owner, then from States, then none.</summary>
    private static DraftSharing Stricter(DraftSharing left, DraftSharing right) =>
        left == DraftSharing.Unspecified ? right
        : right == DraftSharing.Unspecified ? left
        : left == DraftSharing.Secretariat && right == DraftSharing.Secretariat ? DraftSharing.Secretariat
        : DraftSharing.OwnerOnly;

    /// <summary>
    /// The indicators whose drafts this origin's configuration holds back from <paramref name="reader"/> (not its owner), whatever
    /// a change signed (<c>Always</c>): for States all that hold drafts, for the Secretariat those without
    /// Node:Sharing:...:ShowDraftsToSecretariat. In the change feed (<paramref name="feed"/>) the Secretariat also receives a draft
    /// of the others only when the change's signed hold shows it to the Secretariat (<c>UnlessSigned</c>): its node must be able to
    /// tell a draft it holds from an approved change.
    /// </summary>
    public (IReadOnlySet<string> Always, IReadOnlySet<string> UnlessSigned) HoldingDraftsFrom(Reader reader, bool feed) =>
        !reader.IsSecretariat ? (_holdingDrafts, None) : (_holdingFromSecretariat, feed ? _holdingDrafts : None);

    /// <summary>What is wrong with <paramref name="sharing"/> (the message naming the key), or null: the options' validation.</summary>
    public static string? Problem(SharingOptions sharing, StandardCatalogue catalogue)
    {
        try
        {
            _ = new SharingPolicies(Options.Create(new NodeOptions { Sharing = sharing }), catalogue);
            return null;
        }
        catch (InvalidOperationException e)
        {
            return e.Message;
        }
    }

    /// <summary>The policy a new change of <paramref name="indicatorCode"/> is written under.</summary>
    public RowPolicy For(string indicatorCode) => _byIndicator.TryGetValue(indicatorCode, out var policy) ? policy : _default;

    private static RowPolicy Resolve(SharingRule rule, SharingRule? fallback, string key, StandardCatalogue catalogue)
    {
        var readers = (rule.Readers ?? fallback?.Readers ?? "secretariat").Trim();
        var release = rule.ReleaseTime ?? fallback?.ReleaseTime;
        var threshold = rule.SmallCountThreshold ?? fallback?.SmallCountThreshold ?? 0;
        var drafts = (rule.HoldDrafts ?? fallback?.HoldDrafts) != true ? DraftSharing.Unspecified
            : (rule.ShowDraftsToSecretariat ?? fallback?.ShowDraftsToSecretariat) == true ? DraftSharing.Secretariat
            : DraftSharing.OwnerOnly;
        if (threshold < 0)
        {
            throw new InvalidOperationException($"Configuration key {key}:SmallCountThreshold must be 0 (none) or more; got {threshold}.");
        }
        var releaseMicros = release is { } time ? StoreTime.ToMicros(time) : (long?)null;
        if (readers.Equals("secretariat", StringComparison.OrdinalIgnoreCase) || readers.Length == 0)
        {
            return new RowPolicy("", releaseMicros, threshold, drafts);
        }
        if (readers.Equals("all", StringComparison.OrdinalIgnoreCase))
        {
            return new RowPolicy(RowPolicy.AllStates, releaseMicros, threshold, drafts);
        }
        var codes = readers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var code in codes)
        {
            if (!catalogue.ReportingCountries.Contains(code))
            {
                throw new InvalidOperationException(
                    $"Configuration key {key}:Readers: '{code}' is not a MIRPS State ({string.Join(", ", catalogue.ReportingCountries.Order(StringComparer.Ordinal))}); " +
                    "use \"secretariat\", \"all\" or a comma-separated list of ISO3 codes.");
            }
        }
        return RowPolicy.Listed(codes, releaseMicros, threshold) with { Drafts = drafts };
    }
}
