using Microsoft.EntityFrameworkCore;
using Mirps.Log;
using MirpsExchange.Catalogue;

namespace MirpsExchange.Node.Store;

/// <summary>
/// Rows held as an earlier catalogue wrote them, read in the catalogue the node runs now. A node stores a dimension
/// its indicator declares at its default when an observation leaves it empty (<see cref="StandardCatalogue.Normalised"/>),
/// so a key has one spelling; rows written under catalogue 1.0 (by a node before catalogue 2.0, whose store the
/// CatalogueTwoDimensions migration gave empty columns, or by a node on Node:CatalogueVersion 1.0.0) hold those
/// dimensions empty. At start they take their defaults, so their history, as-of answers and next revisions
/// are those of the same cells. The change log's encoding leaves a dimension at its default out, so no hash changes.
/// Idempotent: a second start finds nothing to change (and reads only the declaring indicators' index entries).
/// </summary>
public static class StoredDimensions
{
    public static async Task<int> NormaliseAsync(NodeDbContext db, StandardCatalogue catalogue, CancellationToken cancellationToken = default)
    {
        var changed = 0;
        for (var d = 0; d < AddedDimensions.Count; d++)
        {
            var declaring = catalogue.Catalog.Indicators.Where(i => i.DimensionIds.Contains(AddedDimensions.DimensionIds[d])).Select(i => (object)i.Code).ToList();
            if (declaring.Count == 0)
            {
                continue;
            }
            var column = AddedDimensions.FieldNames[d]; // the column is named after the field (NodeDbContext)
            var inList = string.Join(", ", declaring.Select((_, i) => $"{{{i + 1}}}"));
            // The column name is the contract's (a constant list), every value a parameter.
            var sql = "UPDATE observations SET " + column + " = {0} WHERE indicator_code IN (" + inList + ") AND " + column + " = ''";
            changed += await db.Database.ExecuteSqlRawAsync(sql, [AddedDimensions.Defaults[d], .. declaring], cancellationToken);
        }
        return changed;
    }
}
