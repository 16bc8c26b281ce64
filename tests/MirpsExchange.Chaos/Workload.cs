using System.Collections.Concurrent;
using Grpc.Core;
using Mirps.Auth;
using Mirps.Observation.V1;
using Mirps.Sync.V1;

namespace MirpsExchange.Chaos;

/// <summary>
/// All the while: each State's national system writes small batches to its own node (revisions, deletions, small
/// counts among them), retrying each request with its request id until it is acknowledged; readers of every State
/// read the other States' figures from every node, and the Secretariat's regional figures are read, each answer checked.
/// </summary>
public sealed class Workload(Federation federation, Invariants invariants, long seed, Action<string> violation)
{
    /// <summary>Indicators the writers fill: additive counts with no rule between them; IDPS is PAN's Secretariat-only one.</summary>
    public static readonly string[] Indicators = ["REFUGEES", "WORK_PERMITS", "IDPS"];
    /// <summary>The total cell of each: _T in every dimension the indicator declares, the others left empty.</summary>
    private static readonly Dictionary<string, (string Sex, string Age, string Origin)> Totals = new(StringComparer.Ordinal)
    {
        ["REFUGEES"] = ("_T", "_T", "_T"), ["WORK_PERMITS"] = ("_T", "", "_T"), ["IDPS"] = ("_T", "_T", ""),
    };

    public static readonly string[] Periods = [.. Enumerable.Range(1995, 30).Select(y => y.ToString(System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>Per origin, the last acknowledged value of each (indicator, period) total; null: deleted.</summary>
    public ConcurrentDictionary<(string Origin, string Indicator, string Period), double?> Acknowledged { get; } = new();

    /// <summary>Keys whose last write got no answer at all within its retries: their final value is not asserted.</summary>
    public ConcurrentDictionary<(string Origin, string Indicator, string Period), byte> Unknown { get; } = new();

    public long Writes, Reads, FailedCalls;

    public Task RunWritersAsync(CancellationToken stop) => Task.WhenAll(Federation.States.Select((state, i) => Task.Run(() => WriteAsync(state, seed * 31 + i, stop))));

    public Task RunReadersAsync(CancellationToken stop) => Task.WhenAll(
        Task.Run(() => ReadAsync(seed * 37 + 1, stop)), Task.Run(() => ReadAsync(seed * 37 + 2, stop)), Task.Run(() => CheckLogsAsync(stop)), Task.Run(() => RegionalAsync(seed * 41, stop)));

    private async Task WriteAsync(string state, long writerSeed, CancellationToken stop)
    {
        var random = new SplitMix64(writerSeed);
        var tokens = invariants.Tokens(state, state);
        while (!stop.IsCancellationRequested)
        {
            var keys = Enumerable.Range(0, 1 + random.Next(12))
                .Select(_ => (Indicators[random.Next(Indicators.Length)], Periods[random.Next(Periods.Length)])).Distinct().ToList();
            var delete = random.Next(12) == 0;
            // One in six values is a small count (withheld from other States).
            var values = keys.Select(_ => (double)(random.Next(6) == 0 ? 1 + random.Next(Federation.SmallCountThreshold - 1) : Federation.SmallCountThreshold + random.Next(5000))).ToList();
            var requestId = Guid.NewGuid().ToString();
            var acknowledged = await UntilAnsweredAsync(async () =>
            {
                using var channel = federation.Channel(state, tokens);
                var client = new ObservationService.ObservationServiceClient(channel);
                var deadline = DateTime.UtcNow.AddSeconds(10);
                if (delete)
                {
                    var request = new DeleteObservationsRequest { RequestId = requestId };
                    request.Keys.Add(keys.Select(k => new ObservationKey
                    {
                        IndicatorCode = k.Item1, Country = state, Period = k.Item2, Sex = Totals[k.Item1].Sex, Age = Totals[k.Item1].Age, CountryOfOrigin = Totals[k.Item1].Origin,
                    }));
                    await client.DeleteObservationsAsync(request, deadline: deadline, cancellationToken: CancellationToken.None);
                }
                else
                {
                    var request = new SubmitObservationsRequest { RequestId = requestId };
                    request.Observations.Add(keys.Select((k, i) => new Observation
                    {
                        IndicatorCode = k.Item1, Country = state, Period = k.Item2, Sex = Totals[k.Item1].Sex, Age = Totals[k.Item1].Age, CountryOfOrigin = Totals[k.Item1].Origin,
                        Value = values[i], Status = ObservationStatus.Normal,
                    }));
                    await client.SubmitObservationsAsync(request, deadline: deadline, cancellationToken: CancellationToken.None);
                }
            }, $"{state}'s {(delete ? "delete" : "submit")} {requestId}");
            for (var i = 0; i < keys.Count; i++)
            {
                var key = (state, keys[i].Item1, keys[i].Item2);
                if (acknowledged)
                {
                    Acknowledged[key] = delete ? null : values[i];
                    Unknown.TryRemove(key, out _);
                }
                else
                {
                    Unknown[key] = 0;
                }
            }
            Interlocked.Increment(ref Writes);
            await Delay(100 + random.Next(300), stop);
        }
    }

    /// <summary>
    /// Retries one request (the same request id) until the node answers it: an acknowledgement, or a refusal, which is
    /// a violation (the harness writes only valid data). After a minute of faults it gives up: the outcome is unknown.
    /// </summary>
    private async Task<bool> UntilAnsweredAsync(Func<Task> call, string what)
    {
        var giveUp = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                await call();
                return true;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.PermissionDenied or StatusCode.AlreadyExists)
            {
                violation($"{what} refused: {e.StatusCode} {e.Status.Detail}");
                return false;
            }
            catch (Exception e) when (e is RpcException or HttpRequestException or TokenRequestException or TaskCanceledException)
            {
                Interlocked.Increment(ref FailedCalls);
                if (DateTime.UtcNow > giveUp)
                {
                    return false;
                }
                await Task.Delay(300);
            }
        }
    }

    /// <summary>A State reads another State's figures from a node: current values, and the origin's log as it is served to it.</summary>
    private async Task ReadAsync(long readerSeed, CancellationToken stop)
    {
        var random = new SplitMix64(readerSeed);
        var nodes = Federation.States;
        while (!stop.IsCancellationRequested)
        {
            var reader = nodes[random.Next(nodes.Length)];
            var node = nodes[random.Next(nodes.Length)];
            var origin = nodes[random.Next(nodes.Length)];
            try
            {
                using var channel = federation.Channel(node, invariants.Tokens(reader, node));
                if (random.Next(2) == 0)
                {
                    using var call = new ObservationService.ObservationServiceClient(channel).StreamObservations(new StreamObservationsRequest(),
                        deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: stop);
                    await foreach (var message in call.ResponseStream.ReadAllAsync(stop))
                    {
                        foreach (var served in message.Observations)
                        {
                            invariants.CheckServedToState(reader, node, served);
                        }
                    }
                }
                else
                {
                    using var call = new SyncService.SyncServiceClient(channel).StreamChanges(new StreamChangesRequest { Origin = origin },
                        deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: stop);
                    await foreach (var message in call.ResponseStream.ReadAllAsync(stop))
                    {
                        foreach (var served in message.Changes)
                        {
                            invariants.CheckServedToState(reader, node, served);
                        }
                    }
                }
                Interlocked.Increment(ref Reads);
            }
            catch (Exception e) when (e is RpcException or HttpRequestException or TokenRequestException or OperationCanceledException)
            {
                Interlocked.Increment(ref FailedCalls);
            }
            await Delay(150, stop);
        }
    }

    /// <summary>Every replica's copy of every origin's log, checked as it grows.</summary>
    private async Task CheckLogsAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            foreach (var origin in Federation.States)
            {
                await Tolerate(() => invariants.RefreshReferenceAsync(origin, stop));
                foreach (var node in Invariants.ReplicasOf(origin))
                {
                    await Tolerate(() => invariants.CheckReplicaAsync(node, origin, stop));
                }
            }
            await Delay(1000, stop);
        }
    }

    private async Task RegionalAsync(long regionalSeed, CancellationToken stop)
    {
        var random = new SplitMix64(regionalSeed);
        while (!stop.IsCancellationRequested)
        {
            var indicator = Indicators[random.Next(Indicators.Length)];
            var period = Periods[random.Next(Periods.Length)];
            await Tolerate(() => invariants.CheckRegionalAsync(indicator, period, stop));
            await Delay(300, stop);
        }
    }

    /// <summary>A check that could not be made now (its node down, a token not to be had) is made another time.</summary>
    private async Task Tolerate(Func<Task> check)
    {
        try
        {
            await check();
        }
        catch (Exception e) when (e is RpcException or HttpRequestException or TokenRequestException or OperationCanceledException)
        {
            Interlocked.Increment(ref FailedCalls);
        }
    }

    private static async Task Delay(int milliseconds, CancellationToken stop)
    {
        try
        {
            await Task.Delay(milliseconds, stop);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
