using MirpsExchange.Node.Extensions;

// glibc's malloc arenas capped before the host's threads allocate: the store's native memory stays bounded (see MallocArenas).
MallocArenas.Limit();
var app = await NodeApplication.BuildAsync(args);
await app.RunAsync();
