using MirpsExchange.Secretariat.Extensions;

// glibc's malloc arenas capped before the host's threads allocate: the store's native memory stays bounded (see MallocArenas).
MirpsExchange.Node.Extensions.MallocArenas.Limit();
var app = await SecretariatApplication.BuildAsync(args);
await app.RunAsync();
