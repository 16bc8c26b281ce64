using System.CommandLine;

namespace MirpsExchange.Cli.Commands;

internal static class CommonOptions
{
    public static Option<Uri> Node() => new("--node")
    {
        Description = "Address of the node, for example http://127.0.0.1:5100 (environment variable MIRPS_NODE)",
        DefaultValueFactory = _ => new Uri(Environment.GetEnvironmentVariable("MIRPS_NODE") ?? "http://127.0.0.1:5100"),
    };
}
