using MirpsExchange.Cli;

return await CliApp.BuildRootCommand().Parse(args).InvokeAsync();
