using MirpsExchange.Secretariat.Extensions;

var app = await SecretariatApplication.BuildAsync(args);
await app.RunAsync();
