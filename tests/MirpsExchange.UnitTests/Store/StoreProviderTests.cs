using Microsoft.Extensions.Configuration;
using MirpsExchange.Node.Store;

namespace MirpsExchange.UnitTests.Store;

/// <summary><c>Store:Provider</c>: SQLite unless PostgreSQL is named; a misspelt provider stops the start rather than fall back.</summary>
public class StoreProviderTests
{
    [Theory]
    [InlineData(null, StoreProvider.Sqlite)]
    [InlineData("", StoreProvider.Sqlite)]
    [InlineData("sqlite", StoreProvider.Sqlite)]
    [InlineData("SQLite", StoreProvider.Sqlite)]
    [InlineData("postgres", StoreProvider.Postgres)]
    [InlineData("PostgreSQL", StoreProvider.Postgres)]
    public void The_provider_is_read_from_Store_Provider(string? value, StoreProvider expected) =>
        Assert.Equal(expected, StoreExtensions.ProviderOf(Configuration(value)));

    [Fact]
    public void An_unknown_provider_is_refused_naming_the_setting()
    {
        var error = Assert.Throws<InvalidOperationException>(() => StoreExtensions.ProviderOf(Configuration("postgress")));
        Assert.Contains("Store:Provider is 'postgress'", error.Message, StringComparison.Ordinal);
    }

    private static IConfiguration Configuration(string? provider) =>
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Store:Provider"] = provider }).Build();
}
