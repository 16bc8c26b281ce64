using Grpc.Core;
using Mirps.Catalog.V1;
using MirpsExchange.Catalogue;

namespace MirpsExchange.Node.Grpc;

public sealed class CatalogGrpcService(StandardCatalogue catalogue) : CatalogService.CatalogServiceBase
{
    public override Task<GetCatalogResponse> GetCatalog(GetCatalogRequest request, ServerCallContext context) =>
        Task.FromResult(new GetCatalogResponse { Catalog = catalogue.Catalog, Digest = catalogue.Digest });
}
