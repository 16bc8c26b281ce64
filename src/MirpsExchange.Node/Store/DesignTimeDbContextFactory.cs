using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace MirpsExchange.Node.Store;

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without starting the node.</summary>
internal sealed class DesignTimeDbContextFactory : IDesignTimeDbContextFactory<NodeDbContext>
{
    public NodeDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<NodeDbContext>().UseSqlite("Data Source=design-time.db").Options);
}
