using System.CommandLine;

namespace MirpsExchange.Cli.Commands;

internal static class CommonOptions
{
    public static Option<Uri> Node() => new("--node")
    {
        Description = "Address of the node, for example http://127.0.0.1:5100 (default: environment variable MIRPS_NODE, else that address)",
        DefaultValueFactory = _ => new Uri(Environment.GetEnvironmentVariable("MIRPS_NODE") ?? "http://127.0.0.1:5100"),
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
            {
                return uri;
            }
            result.AddError($"--node must be an http:// or https:// address such as http://127.0.0.1:5100, not '{text}'");
            return null;
        },
    };
}
