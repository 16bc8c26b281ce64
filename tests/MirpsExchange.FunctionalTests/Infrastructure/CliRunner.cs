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
        var code = await CliApp.BuildRootCommand().Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }
}
