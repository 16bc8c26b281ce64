using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using MirpsExchange.Catalogue;
using MirpsExchange.Node.Store;
using Method = Mirps.Log.SuppressionMethod;

namespace MirpsExchange.Node.Sharing;

/// <summary>
/// The versions of complementary suppression (protos/README.md, "Disclosure control", "Method versions"): which this node
/// implements, which one an origin's node declares in its signed heads, and which one is in force for an origin's figures.
/// Every node that serves an origin's figures, and every replica that checks the origin's complementary withholdings, uses
/// the method in force for that origin: the highest its signed heads name (<see cref="InForce"/>), so two nodes holding
/// the same log withhold the same cells, a relay cannot lower it (the method is signed), and it never goes back.
/// A node that does not implement it refuses the origin's log with FAILED_PRECONDITION naming the method (<see cref="NotImplemented"/>)
/// rather than serve it with an older method or take the origin's honest withholdings for forged ones.
/// </summary>
public sealed class SuppressionMethods
{
    /// <summary>The methods this software implements: 2 (additive lines of one period) and 3 (and a year's temporal lines).</summary>
    public static IReadOnlyList<uint> InSoftware { get; } = [2, 3];

    /// <summary>A node (or a reader) that does not implement the method in force for an origin: FAILED_PRECONDITION.</summary>
    public const string NotImplemented = "SUPPRESSION_METHOD_NOT_IMPLEMENTED";

    /// <summary>A serving node computed its withholdings with a method older than the one the origin's signed heads put in force.</summary>
    public const string Outdated = "SUPPRESSION_METHOD_OUTDATED";

    public SuppressionMethods(IOptions<NodeOptions> options)
        : this(options.Value.Sharing)
    {
    }

    public SuppressionMethods(SharingOptions sharing)
    {
        if (Problem(sharing) is { } problem)
        {
            throw new InvalidOperationException(problem);
        }
        Implemented = ImplementedBy(sharing);
        Declared = sharing.SuppressionMethod is { } declared ? (uint)declared : Implemented.Contains(Method.Default) ? Method.Default : Implemented.Max();
    }

    /// <summary>What this node implements (Node:Sharing:SuppressionMethods, every method of <see cref="InSoftware"/> by default).</summary>
    public IReadOnlySet<uint> Implemented { get; }

    /// <summary>
    /// The method this node declares for its own State's figures (Node:Sharing:SuppressionMethod; by default method 3, the method
    /// in force when methods were versioned): signed in each commit's head, unless its log already names a higher one (<see cref="ToSign"/>).
    /// </summary>
    public uint Declared { get; }

    /// <summary>The software's full set: a node built without options (tools, benchmarks).</summary>
    public static SuppressionMethods All { get; } = new(new SharingOptions());

    /// <summary>The methods a node configured with <paramref name="sharing"/> implements.</summary>
    public static IReadOnlySet<uint> ImplementedBy(SharingOptions sharing) => Configured(sharing).ToHashSet();

    private static IEnumerable<uint> Configured(SharingOptions sharing) =>
        sharing.SuppressionMethods is { Count: > 0 } listed ? listed.Select(m => (uint)m) : InSoftware;

    /// <summary>What is wrong with the methods configured (the message names the key), or null.</summary>
    public static string? Problem(SharingOptions sharing)
    {
        if (sharing.SuppressionMethods?.Where(m => m < 0 || !InSoftware.Contains((uint)m)).Select(m => (int?)m).FirstOrDefault() is { } unknown)
        {
            return $"Configuration key Node:Sharing:SuppressionMethods lists method {unknown}, which this software does not implement (it implements {Names(InSoftware)}).";
        }
        if (sharing.SuppressionMethod is { } declared && (declared < 0 || !Configured(sharing).Contains((uint)declared)))
        {
            return $"Configuration key Node:Sharing:SuppressionMethod is {declared}, which this node does not implement (it implements {Names(Configured(sharing))}).";
        }
        return null;
    }

    /// <summary>"2, 3": methods in order.</summary>
    public static string Names(IEnumerable<uint> methods) => string.Join(", ", methods.Distinct().Order());

    // ---- Which method, from the signed heads (pure: unit-tested). ----

    /// <summary>
    /// The method in force for an origin whose signed heads name <paramref name="named"/> (0 meaning method 3): the highest;
    /// null when there is no head (nothing of the origin's log is signed yet).
    /// </summary>
    public static uint? InForce(IEnumerable<uint> named)
    {
        uint? inForce = null;
        foreach (var method in named)
        {
            inForce = Math.Max(inForce ?? 0, Method.Of(method));
        }
        return inForce;
    }

    /// <summary>The method an origin signs in its next head: what it declares, or the one its log already holds in force if higher (never back).</summary>
    public static uint ToSign(uint declared, uint? logInForce) => Math.Max(Method.Of(declared), logInForce ?? 0);

    /// <summary>The methods a reader implements, as it declares them in StreamChangesRequest.suppression_methods: none, method 3 only (a reader from before methods were versioned).</summary>
    public static IReadOnlySet<uint> ReaderImplements(IEnumerable<uint> declared)
    {
        var methods = declared.Select(Method.Of).ToHashSet();
        return methods.Count > 0 ? methods : new HashSet<uint> { Method.Default };
    }

    /// <summary>
    /// Why <paramref name="party"/>, implementing <paramref name="implemented"/>, cannot hold <paramref name="origin"/>'s figures
    /// under method <paramref name="inForce"/>, or null when it can.
    /// </summary>
    public static string? Unmet(string origin, uint inForce, IReadOnlySet<uint> implemented, string party) =>
        implemented.Contains(inForce) ? null
            : $"{origin}'s signed log heads put complementary-suppression method {inForce} in force for its figures, and {party} implements method {Names(implemented)} only: " +
              $"it could neither check {origin}'s complementary withholdings nor withhold what other nodes withhold; upgrade to a release that implements method {inForce}";

    /// <summary>
    /// What a replica implementing <paramref name="implemented"/> makes of a message whose withholdings were computed with
    /// <paramref name="served"/> (0: method 3) by <paramref name="address"/>, while the origin's signed heads it holds and
    /// receives put <paramref name="inForce"/> in force: the method to check the complementary withholdings with, or a refusal
    /// (<see cref="Sync.PeerRefusedException"/>): a method in force it does not implement (<see cref="NotImplemented"/>), or
    /// served with an older one than in force (<see cref="Outdated"/>: it withholds less than the origin's heads require).
    /// A served method newer than the one in force, and implemented, is the serving node's own stricter choice (an origin's
    /// node raising its method before its next head names it): checked with it.
    /// </summary>
    public static uint ToCheck(string origin, string address, uint served, uint? inForce, IReadOnlySet<uint> implemented)
    {
        served = Method.Of(served);
        var required = inForce ?? Method.Default;
        if (Unmet(origin, required, implemented, "this node") is { } unmet)
        {
            throw new Sync.PeerRefusedException(NotImplemented, $"FAILED_PRECONDITION: {unmet}; nothing of {origin}'s log past here is applied");
        }
        if (served < required)
        {
            throw new Sync.PeerRefusedException(Outdated,
                $"{address} computed its withholdings of {origin}'s changes with complementary-suppression method {served}, older than method {required} that {origin}'s signed heads put in force; nothing from this batch was applied");
        }
        if (!implemented.Contains(served))
        {
            throw new Sync.PeerRefusedException(NotImplemented,
                $"FAILED_PRECONDITION: {address} computed its withholdings of {origin}'s changes with complementary-suppression method {served}, which this node does not implement ({Names(implemented)}); nothing from this batch was applied");
        }
        return served;
    }

    // ---- The store. ----

    /// <summary>Per store and origin, the last head read and the highest method named up to it: heads are read once each.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string Store, string Origin), (long Sequence, int Method)> Read = new();

    /// <summary>The method in force for <paramref name="origin"/> by the heads this store holds of its log (null: none).</summary>
    public static async Task<uint?> LogInForceAsync(NodeDbContext db, string origin, CancellationToken cancellationToken)
    {
        var key = (db.Database.GetConnectionString() ?? "", origin);
        var (after, highest) = Read.TryGetValue(key, out var read) ? read : (-1L, 0);
        if (after >= 0 && !await db.LogHeads.AsNoTracking().AnyAsync(h => h.Origin == origin && h.Sequence == after, cancellationToken))
        {
            (after, highest) = (-1L, 0); // the store was replaced under this process (a restore): read its heads again
        }
        // The heads after the last read (the primary key's range): a commit adds one or two.
        var newer = await db.LogHeads.AsNoTracking().Where(h => h.Origin == origin && h.Sequence > after).GroupBy(h => h.Origin)
            .Select(g => new { Last = g.Max(h => h.Sequence), Method = g.Max(h => h.SuppressionMethod) }).FirstOrDefaultAsync(cancellationToken);
        if (newer is not null)
        {
            highest = Math.Max(highest, newer.Method);
            if (Read.Count >= 4_096)
            {
                Read.Clear();
            }
            Read[key] = (newer.Last, highest);
        }
        return highest > 0 ? Method.Of((uint)highest) : null;
    }

    /// <summary>The method to serve <paramref name="origin"/>'s figures with: in force by its heads, method 3 for a log with none (history not signed yet).</summary>
    public static async Task<uint> ServingAsync(NodeDbContext db, string origin, CancellationToken cancellationToken) =>
        await LogInForceAsync(db, origin, cancellationToken) ?? Method.Default;

    /// <summary>The lines method <paramref name="method"/> puts an indicator's tables on: 2, the additive ones; 3, and the temporal ones.</summary>
    public static ComplementarySuppression.Rule RuleOf(StandardCatalogue catalogue, string indicatorCode, uint method)
    {
        var rule = ComplementarySuppression.RuleOf(catalogue, indicatorCode);
        return Method.Of(method) switch
        {
            2 => rule with { Temporal = Mirps.Catalog.V1.TemporalAggregation.NotAggregable },
            3 => rule,
            var other => throw new InvalidOperationException($"complementary-suppression method {other} is not implemented here ({Names(InSoftware)})"),
        };
    }
}
