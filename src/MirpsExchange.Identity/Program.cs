using MirpsExchange.Identity.Extensions;

var app = await IdentityApplication.BuildAsync(args);
await app.RunAsync();
