using System.CommandLine;
using MirpsExchange.Cli;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>Runs the <c>mirps</c> command line in this process with captured output, as a person would type it.</summary>
public static class CliRunner
{
    public static async Task<(int Code, string Output, string Error)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await RunAsync(args, output, error, CancellationToken.None);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>A command that runs until <paramref name="cancellationToken"/> (Ctrl+C), such as <c>devnet</c>, printing to writers a test reads meanwhile.</summary>
    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken) =>
        CliApp.BuildRootCommand().Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
}
