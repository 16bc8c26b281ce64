namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// How long a test's in-process host (a node, the Secretariat, the identity server, a hostile peer) may take to start: a bound,
/// not a wait (the host goes on as soon as it listens). CI runs the test projects side by side on two cores, where a node's start
/// (a new store migrated, keys and tokens fetched) took more than 30 s.
/// </summary>
public static class StartBound
{
    public static readonly TimeSpan Time = TimeSpan.FromSeconds(90);
}
