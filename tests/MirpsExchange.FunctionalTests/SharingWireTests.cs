using Grpc.Core;
using Mirps.Observation.V1;
using Mirps.Sync.V1;
using MirpsExchange.FunctionalTests.Infrastructure;
using static MirpsExchange.FunctionalTests.Infrastructure.Samples;

namespace MirpsExchange.FunctionalTests;

/// <summary>
/// The origin's sharing policy as it goes out on the wire: the change feed (StreamChanges) read straight
/// from the serving node, the origin or a relay, with each reader's own token. A replica's store cannot
/// show a leak: a replica keeps only the position of a placeholder and never the value of a small count,
/// whatever the message carried. These tests assert on what must be absent from a withheld change, not on
/// whole messages, so that fields added to StoredObservation later (salt, digests, received time) keep them valid.
/// </summary>
public class SharingWireTests
{
    private static readonly Observation Embargoed = SharingPolicyTests.Applications(value: 100);
    private static readonly Observation Small = WithNote(Refugees(sex: "F", value: 3), "3 women at the northern border");
    private static readonly Observation Large = WithNote(Refugees(sex: "M", value: 12), "counted at the border");

    /// <summary>
    /// BLZ's node: REFUGEES shared with CRI only, counts under 5 withheld; ASYLUM_APPLICATIONS shared with
    /// every State but embargoed for an hour. Its log: 1 the embargoed change (ASYLUM_APPLICATIONS sorts
    /// first), 2 the small count (F), 3 a count above the threshold (M).
    /// </summary>
    private static async Task<TestNode> OriginAsync(DateTimeOffset release)
    {
        var origin = await TestNode.StartAsync("BLZ", null, SharingPolicyTests.Policy(
            ("REFUGEES", "Readers", "CRI"), ("REFUGEES", "SmallCountThreshold", "5"),
            ("ASYLUM_APPLICATIONS", "Readers", "all"), ("ASYLUM_APPLICATIONS", "ReleaseTime", release.ToString("O"))));
        await origin.Observations.SubmitObservationsAsync(Submit(Large, Embargoed, Small));
        return origin;
    }

    [Fact]
    public async Task The_origin_sends_each_reader_only_what_its_policy_allows()
    {
        var release = DateTimeOffset.UtcNow.AddHours(1);
        await using var origin = await OriginAsync(release);

        var owner = await FeedAsync(origin, "BLZ");
        var panama = await FeedAsync(origin, "PAN");
        var costaRica = await FeedAsync(origin, "CRI");
        var secretariat = await FeedAsync(origin, "");

        // The owner receives its whole log.
        Assert.Equal(3, owner.Count);
        Complete(owner[0], 1, Embargoed);
        Complete(owner[1], 2, Small);
        Complete(owner[2], 3, Large);

        // A State the policy does not name: placeholders for REFUGEES; the embargo withholds the rest.
        Assert.Equal(3, panama.Count);
        Placeholder(panama[0], 1, Withholding.Embargoed, owner[0], release);
        Placeholder(panama[1], 2, Withholding.NotShared, owner[1]);
        Placeholder(panama[2], 3, Withholding.NotShared, owner[2]);

        // A State the policy names: the small count's key, without its value or note; the rest complete.
        Assert.Equal(3, costaRica.Count);
        Placeholder(costaRica[0], 1, Withholding.Embargoed, owner[0], release);
        SmallCount(costaRica[1], 2, Small);
        Complete(costaRica[2], 3, Large);

        // The Secretariat may read every value, small counts included, but not before the release time.
        Assert.Equal(3, secretariat.Count);
        Placeholder(secretariat[0], 1, Withholding.Embargoed, owner[0], release);
        Complete(secretariat[1], 2, Small);
        Complete(secretariat[2], 3, Large);
    }

    [Fact]
    public async Task A_relay_sends_each_reader_no_more_than_the_origin_would_and_no_more_than_it_holds()
    {
        var release = DateTimeOffset.UtcNow.AddHours(1);
        await using var origin = await OriginAsync(release);
        var owner = await FeedAsync(origin, "BLZ");
        await using var relay = await SharingPolicyTests.ReplicaAsync("CRI", "CRI", origin.Folder, origin.Peer);
        await SharingPolicyTests.HoldsAsync(relay, 3);

        var panama = await FeedAsync(relay, "PAN");
        var costaRica = await FeedAsync(relay, "CRI");
        var secretariat = await FeedAsync(relay, "");

        Assert.Equal(3, panama.Count);
        Placeholder(panama[0], 1, Withholding.Embargoed, owner[0], release);
        Placeholder(panama[1], 2, Withholding.NotShared, owner[1]);
        Placeholder(panama[2], 3, Withholding.NotShared, owner[2]);

        // A small count goes out only from the origin's own node: from a relay, a reader who could not tell a small
        // count from a value the relay calls one (and would never ask again) is told to ask the origin.
        Assert.Equal(3, costaRica.Count);
        Placeholder(costaRica[0], 1, Withholding.Embargoed, owner[0], release);
        Placeholder(costaRica[1], 2, Withholding.NotHeld, owner[1]);
        Complete(costaRica[2], 3, Large);

        // The relay holds the small count without its value: the Secretariat, who may read it, is told to ask elsewhere.
        Assert.Equal(3, secretariat.Count);
        Placeholder(secretariat[0], 1, Withholding.Embargoed, owner[0], release);
        Placeholder(secretariat[1], 2, Withholding.NotHeld, owner[1]);
        Complete(secretariat[2], 3, Large);
    }

    /// <summary>BLZ's whole change feed from <paramref name="node"/> as <paramref name="reader"/> ("" for the Secretariat) receives it.</summary>
    private static async Task<List<StoredObservation>> FeedAsync(TestNode node, string reader)
    {
        using var tokens = node.TokensFor(await SharedIdentity.CredentialAsync(reader));
        using var channel = node.ChannelWith(tokens.ToCallCredentials());
        using var call = new SyncService.SyncServiceClient(channel).StreamChanges(new StreamChangesRequest { Origin = "BLZ" }, deadline: DateTime.UtcNow.AddSeconds(30));
        var changes = new List<StoredObservation>();
        await foreach (var message in call.ResponseStream.ReadAllAsync())
        {
            changes.AddRange(message.Changes);
        }
        return changes;
    }

    /// <summary>
    /// A placeholder: its position in the log, the origin's time and policy, and why it is withheld; nothing
    /// of the observation (no key, value, status or note), nor its revision or whether it deletes.
    /// </summary>
    private static void Placeholder(StoredObservation change, long sequence, Withholding withholding, StoredObservation whole, DateTimeOffset? release = null)
    {
        Assert.Equal(("BLZ", sequence, withholding), (change.Origin, change.OriginSequence, change.Withholding));
        Assert.Null(change.Observation);
        Assert.Equal(0, change.Revision);
        Assert.False(change.Deleted);
        Assert.Equal(whole.RecordedTime, change.RecordedTime);
        Assert.Equal(whole.Policy, change.Policy);
        // An embargoed change says when to ask again.
        Assert.Equal(release?.ToUnixTimeMilliseconds(), change.Policy.ReleaseTime?.ToDateTimeOffset().ToUnixTimeMilliseconds());
    }

    /// <summary>A small count withheld: the key and revision given; value 0, status CONFIDENTIAL and no note.</summary>
    private static void SmallCount(StoredObservation change, long sequence, Observation submitted)
    {
        Assert.Equal(("BLZ", sequence, Withholding.SmallCount, 1L, false), (change.Origin, change.OriginSequence, change.Withholding, change.Revision, change.Deleted));
        Assert.NotNull(change.Observation);
        Assert.Equal(KeyOf(submitted), KeyOf(change.Observation));
        Assert.Equal(0, change.Observation.Value);
        Assert.Equal(ObservationStatus.Confidential, change.Observation.Status);
        Assert.Equal("", change.Observation.Note); // a note may say the count
        Assert.Equal(5, change.Policy.SmallCountThreshold);
    }

    /// <summary>A complete change: the observation exactly as submitted (its declared catalogue 2.0 dimensions at their defaults, as stored), nothing withheld.</summary>
    private static void Complete(StoredObservation change, long sequence, Observation submitted)
    {
        Assert.Equal(("BLZ", sequence, Withholding.Unspecified, 1L, false), (change.Origin, change.OriginSequence, change.Withholding, change.Revision, change.Deleted));
        var stored = submitted.Clone();
        MirpsExchange.Catalogue.StandardCatalogue.LoadStandard().Normalised(stored.IndicatorCode, Mirps.Log.AddedDimensions.Of(stored)).CopyTo(stored);
        Assert.Equal(stored, change.Observation);
        Assert.NotNull(change.RecordedTime);
        Assert.NotNull(change.Policy);
    }

    private static Observation WithNote(Observation observation, string note)
    {
        observation.Note = note;
        return observation;
    }
}
