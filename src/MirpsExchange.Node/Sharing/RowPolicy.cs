using Google.Protobuf.WellKnownTypes;
using Mirps.Observation.V1;
using MirpsExchange.Node.Store;

namespace MirpsExchange.Node.Sharing;

/// <summary>
/// A sharing policy as each stored change carries it. <see cref="Readers"/> is "" for the owner and
/// the Secretariat only, "*" for every MIRPS State, or ",CRI,PAN," (commas around every code, so a
/// substring test is exact, in C# and in SQL alike). <see cref="Drafts"/> is the signed draft hold (Approval/DraftHold):
/// who receives the change before the origin approves it.
/// </summary>
public readonly record struct RowPolicy(string Readers, long? ReleaseTime, int SmallCountThreshold, DraftSharing Drafts = DraftSharing.Unspecified)
{
    public const string AllStates = "*";

    public static readonly RowPolicy SecretariatOnly = new("", null, 0);

    /// <summary>The form of <paramref name="country"/> that <see cref="Readers"/> contains when the list names it.</summary>
    public static string ListEntry(string country) => $",{country},";

    public bool SharesWith(string? country) => Readers == AllStates || (country is { Length: > 0 } && Readers.Contains(ListEntry(country), StringComparison.Ordinal));

    public bool EmbargoedAt(long nowMicros) => ReleaseTime is { } release && release > nowMicros;

    /// <summary>A small count: 1 to threshold - 1.</summary>
    public bool IsSmall(double? value) => SmallCountThreshold > 1 && value is { } v && v >= 1 && v < SmallCountThreshold;

    public static RowPolicy Listed(IEnumerable<string> countries, long? releaseTime, int threshold)
    {
        var codes = countries.Where(code => code.Length > 0).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return new(codes.Count == 0 ? "" : $",{string.Join(',', codes)},", releaseTime, threshold);
    }

    /// <summary>The policy's fields of a change's hash (Mirps.Log.ChangeHash.PolicyFields), as from <see cref="ToMessage"/>.</summary>
    public byte[] HashFields() => Readers == AllStates
        ? Mirps.Log.ChangeHash.PolicyFields(Mirps.Log.ChangeHash.AllStates, null, ReleaseTime ?? 0, SmallCountThreshold)
        : Mirps.Log.ChangeHash.PolicyFields(Mirps.Log.ChangeHash.ListedStates, Readers.Split(',', StringSplitOptions.RemoveEmptyEntries), ReleaseTime ?? 0, SmallCountThreshold);

    /// <summary>Whether the origin holds the change back from <paramref name="reader"/> (not its owner) until approval, by the signed hold.</summary>
    public bool HoldsDraftFrom(Reader reader) => Drafts != DraftSharing.Unspecified && (!reader.IsSecretariat || Drafts != DraftSharing.Secretariat);

    public SharingPolicy ToMessage()
    {
        var message = new SharingPolicy { SmallCountThreshold = SmallCountThreshold, DraftSharing = Drafts };
        if (Readers == AllStates)
        {
            message.Readers = ReaderScope.AllStates;
        }
        else if (Readers.Length == 0)
        {
            message.Readers = ReaderScope.SecretariatOnly;
        }
        else
        {
            message.Readers = ReaderScope.ListedStates;
            message.States.AddRange(Readers.Split(',', StringSplitOptions.RemoveEmptyEntries));
        }
        if (ReleaseTime is { } release)
        {
            message.ReleaseTime = StoreTime.ToTimestamp(release);
        }
        return message;
    }

    /// <summary>The policy a change carries; a change without one is shared with no one beyond the Secretariat.</summary>
    public static RowPolicy FromMessage(SharingPolicy? message)
    {
        if (message is null)
        {
            return SecretariatOnly;
        }
        var release = message.ReleaseTime is { } time ? StoreTime.ToMicros(time.ToDateTimeOffset()) : (long?)null;
        var threshold = Math.Max(0, message.SmallCountThreshold);
        var policy = message.Readers switch
        {
            ReaderScope.AllStates => new RowPolicy(AllStates, release, threshold),
            ReaderScope.ListedStates => Listed(message.States, release, threshold),
            _ => new RowPolicy("", release, threshold),
        };
        return policy with { Drafts = message.DraftSharing };
    }
}
