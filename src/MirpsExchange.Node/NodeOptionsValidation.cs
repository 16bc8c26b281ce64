using Microsoft.Extensions.Options;
using Mirps.Auth;
using MirpsExchange.Catalogue;

namespace MirpsExchange.Node;

/// <summary>
/// Every rule of the Node section, so a mistake stops the node with the configuration key to fix before
/// it opens its store, listens or pulls: run when the section is bound (<see cref="Extensions.NodeExtensions.AddNodeOptions"/>)
/// and again at start (<c>ValidateOnStart</c>).
/// </summary>
/// <param name="secretariat">The Secretariat's node: it belongs to no State, so it has no Node:Country.</param>
public sealed class NodeOptionsValidation(StandardCatalogue catalogue, bool secretariat) : IValidateOptions<NodeOptions>
{
    public ValidateOptionsResult Validate(string? name, NodeOptions options)
    {
        var failures = new List<string>();
        if (secretariat && !string.IsNullOrEmpty(options.Country))
        {
            failures.Add($"The Secretariat's node belongs to no State and writes no data: leave Node:Country empty (got '{options.Country}').");
        }
        if (!secretariat && !catalogue.ReportingCountries.Contains(options.Country))
        {
            failures.Add($"Configuration key Node:Country must be the ISO3 code of a MIRPS State ({string.Join(", ", catalogue.ReportingCountries.Order(StringComparer.Ordinal))}); got '{options.Country}'.");
        }
        if ((options.ClientCertificateFile.Length > 0) != (options.ClientKeyFile.Length > 0))
        {
            failures.Add("Configuration keys Node:ClientCertificateFile and Node:ClientKeyFile must be set together (or both left empty to use the Tls certificate).");
        }
        if (options.PeerLagThreshold <= TimeSpan.Zero)
        {
            failures.Add($"Configuration key Node:PeerLagThreshold must be positive; got {options.PeerLagThreshold:c}.");
        }
        if (options.SubmitSynchronous is not ("FULL" or "NORMAL"))
        {
            failures.Add($"Configuration key Node:SubmitSynchronous must be FULL (acknowledged submits survive power loss) or NORMAL; got '{options.SubmitSynchronous}'.");
        }
        if (options.PeerStallTimeout <= TimeSpan.Zero)
        {
            failures.Add($"Configuration key Node:PeerStallTimeout must be positive; got {options.PeerStallTimeout:c}.");
        }
        if (options.RevocationPollInterval < TimeSpan.FromSeconds(1) || options.RevocationPollInterval > Extensions.RevocationExtensions.MaxPollInterval)
        {
            failures.Add($"Configuration key Node:RevocationPollInterval must be between 00:00:01 and {Extensions.RevocationExtensions.MaxPollInterval:c}, so that a revoked credential is refused within a minute; got {options.RevocationPollInterval:c}.");
        }
        if (Sharing.SharingPolicies.Problem(options.Sharing, catalogue) is { } sharing)
        {
            failures.Add(sharing);
        }
        if (Sharing.SuppressionMethods.Problem(options.Sharing) is { } methods)
        {
            failures.Add(methods);
        }
        for (var i = 0; i < options.Peers.Count; i++)
        {
            var peer = options.Peers[i];
            var key = $"Node:Peers:{i}";
            if (!Uri.TryCreate(peer.Address, UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https"))
            {
                failures.Add($"Configuration key {key}:Address must be the peer node's address, for example https://node.blz.mirps.example:5100; got '{peer.Address}'.");
            }
            // The node sends its bearer token with every pull: plain http only to this machine.
            else if (Mirps.Tls.Cleartext.Refusal($"Configuration key {key}:Address", address) is { } refusal)
            {
                failures.Add(refusal + ".");
            }
            if (!string.Equals(peer.Country, MirpsAuth.Secretariat, StringComparison.OrdinalIgnoreCase)
                && !catalogue.ReportingCountries.Contains(peer.Country.ToUpperInvariant()))
            {
                failures.Add($"Configuration key {key}:Country must name whose node the peer is, the ISO3 code of a MIRPS State "
                    + $"({string.Join(", ", catalogue.ReportingCountries.Order(StringComparer.Ordinal))}) or \"{MirpsAuth.Secretariat}\" "
                    + $"(tokens are asked for that node only); got '{peer.Country}'.");
            }
            if (peer.Origins.Count == 0)
            {
                failures.Add($"Configuration key {key}:Origins must list at least one origin to pull (Node:Peers:{i}:Origins:0=PAN).");
            }
        }
        if (options.Peers.Count > 0 && string.IsNullOrEmpty(options.Credential))
        {
            failures.Add("Configuration key Node:Credential (the node's credential file) is required to pull from Node:Peers.");
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
