using Mirps.Auth;
using Mirps.Identity.V1;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// One identity server for the whole test run (starting one per test would triple the run time), with
/// one credential per State and one for the Secretariat issued through the admin API on first use.
/// Tests that change the identity server itself (revocation, rollover, outages) start their own.
/// </summary>
public static class SharedIdentity
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static readonly Dictionary<string, ClientCredential> Issued = [];
    private static TestIdentity? _identity;

    public static async Task<TestIdentity> GetAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_identity is null)
            {
                _identity = await TestIdentity.StartAsync();
                AppDomain.CurrentDomain.ProcessExit += (_, _) => _identity.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            return _identity;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>The shared credential of a State ("BLZ") or, for "", of the Secretariat.</summary>
    public static Task<ClientCredential> CredentialAsync(string country) => CredentialAsync(country, approve: false);

    /// <summary>The shared approver credential of a State ("BLZ"), or for "" the Secretariat's (accepts and rejects): issued with the approve permission.</summary>
    public static Task<ClientCredential> ApproverAsync(string country) => CredentialAsync(country, approve: true);

    private static async Task<ClientCredential> CredentialAsync(string country, bool approve)
    {
        var identity = await GetAsync();
        await Gate.WaitAsync();
        try
        {
            var name = approve ? $"approver:{country}" : country;
            if (!Issued.TryGetValue(name, out var credential))
            {
                credential = await identity.IssueAsync(country.Length == 0 ? Role.Secretariat : Role.State, country, approve);
                Issued[name] = credential;
            }
            return credential;
        }
        finally
        {
            Gate.Release();
        }
    }
}
