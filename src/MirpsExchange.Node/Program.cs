using MirpsExchange.Node.Extensions;

var app = await NodeApplication.BuildAsync(args);
await app.RunAsync();
