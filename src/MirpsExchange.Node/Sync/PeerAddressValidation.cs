using Microsoft.Extensions.Options;
using Mirps.Tls;

namespace MirpsExchange.Node.Sync;

/// <summary>
/// Checks Node:Peers at start-up: each address is an http(s) URL, and plain http only to this machine,
/// since the node sends its bearer token with every pull (see <see cref="Cleartext"/>).
/// </summary>
public sealed class PeerAddressValidation : IValidateOptions<NodeOptions>
{
    public ValidateOptionsResult Validate(string? name, NodeOptions options)
    {
        var failures = new List<string>();
        for (var i = 0; i < options.Peers.Count; i++)
        {
            var key = $"Configuration key Node:Peers:{i}:Address";
            var value = options.Peers[i].Address;
            if (!Uri.TryCreate(value, UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https"))
            {
                failures.Add($"{key} must be the peer node's address, for example https://node.blz.mirps.example:5100; got '{value}'.");
            }
            else if (Cleartext.Refusal(key, address) is { } refusal)
            {
                failures.Add(refusal + ".");
            }
        }
        return failures.Count > 0 ? ValidateOptionsResult.Fail(failures) : ValidateOptionsResult.Success;
    }
}
