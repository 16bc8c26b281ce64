using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;
using Mirps.Catalog.V1;
using MirpsExchange.Catalogue;
using MirpsExchange.FunctionalTests.Infrastructure;
using MirpsExchange.Node.Extensions;

namespace MirpsExchange.FunctionalTests;

public class ServiceTests
{
    [Fact]
    public async Task The_catalogue_is_served_with_the_version_and_digest_clients_compute()
    {
        await using var node = await TestNode.StartAsync();
        var local = StandardCatalogue.LoadStandard();

        var response = await node.Catalog.GetCatalogAsync(new GetCatalogRequest());

        Assert.Equal("2.1.0", response.Catalog.Version);
        Assert.Equal(local.Digest, response.Digest);
        Assert.Equal(local.Catalog, response.Catalog);
    }

    [Fact]
    public async Task Health_checking_and_reflection_answer()
    {
        await using var node = await TestNode.StartAsync();

        var health = await new Health.HealthClient(node.Channel).CheckAsync(new HealthCheckRequest());
        var reflection = new ServerReflection.ServerReflectionClient(node.Channel).ServerReflectionInfo();
        await reflection.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await reflection.RequestStream.CompleteAsync();
        Assert.True(await reflection.ResponseStream.MoveNext(CancellationToken.None));
        var services = reflection.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        Assert.Contains("mirps.observation.v1.ObservationService", services);
        Assert.Contains("mirps.catalog.v1.CatalogService", services);
    }

    [Fact]
    public async Task A_node_refuses_to_start_for_a_country_that_is_not_a_MIRPS_State()
    {
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => TestNode.StartAsync("USA"));

        Assert.Contains("Node:Country", error.Message);
    }

    [Fact]
    public async Task A_node_started_without_a_country_refuses_to_start_instead_of_defaulting_to_one()
    {
        // The node's own appsettings.json, as `dotnet run --project src/MirpsExchange.Node` reads it.
        var project = Path.Combine(RepositoryRoot(), "src", "MirpsExchange.Node");
        Assert.True(File.Exists(Path.Combine(project, "appsettings.json")));
        var refused = await RefusedBeforeOpeningAnythingAsync(folder => NodeApplication.BuildAsync([$"--contentRoot={project}", "--Node:Port=0", $"--Node:DataDirectory={folder}"]));

        Assert.Contains("Configuration key Node:Country must be the ISO3 code of a MIRPS State", refused.Message);
        Assert.Contains("got ''", refused.Message);
    }

    [Theory]
    [InlineData("Node:Sharing:Indicators:NOT_AN_INDICATOR:Readers=all", "Node:Sharing:Indicators:NOT_AN_INDICATOR: 'NOT_AN_INDICATOR' is not an indicator")]
    [InlineData("Node:Sharing:Default:Readers=CRI,USA", "Node:Sharing:Default:Readers: 'USA' is not a MIRPS State")]
    [InlineData("Node:Sharing:Default:SmallCountThreshold=-1", "Node:Sharing:Default:SmallCountThreshold must be 0 (none) or more")]
    [InlineData("Node:RevocationPollInterval=00:02:00", "Node:RevocationPollInterval must be between 00:00:01 and 00:00:59")]
    [InlineData("Node:ClientCertificateFile=client.crt", "Node:ClientCertificateFile and Node:ClientKeyFile must be set together")]
    [InlineData("Node:Peers:0:Address=http://127.0.0.1:1", "Node:Peers:0:Country must name whose node the peer is")]
    public async Task A_node_with_a_configuration_mistake_refuses_to_start_naming_the_key_before_it_opens_anything(string setting, string message)
    {
        var refused = await RefusedBeforeOpeningAnythingAsync(folder => NodeApplication.BuildAsync(["--Node:Country=PAN", "--Node:Port=0",
            $"--Node:DataDirectory={folder}", "--Node:Issuer=http://127.0.0.1:9/", $"--contentRoot={folder}", $"--{setting}"]));

        Assert.Contains(message, refused.Message);
    }

    [Fact]
    public async Task The_Secretariats_node_refuses_a_country_of_its_own()
    {
        var refused = await RefusedBeforeOpeningAnythingAsync(folder => MirpsExchange.Secretariat.Extensions.SecretariatApplication.BuildAsync(["--Node:Country=PAN",
            "--Node:Port=0", $"--Node:DataDirectory={folder}", "--Node:Issuer=http://127.0.0.1:9/", $"--contentRoot={folder}"]));

        Assert.Contains("The Secretariat's node belongs to no State", refused.Message);
    }

    /// <summary>Builds a server on a fresh folder; it must refuse its configuration before it creates anything there (no store, not even its folder).</summary>
    private static async Task<Microsoft.Extensions.Options.OptionsValidationException> RefusedBeforeOpeningAnythingAsync(Func<string, Task<Microsoft.AspNetCore.Builder.WebApplication>> build)
    {
        var folder = TempFolder.Create();
        try
        {
            var error = await Record.ExceptionAsync(async () =>
            {
                await using var app = await build(folder);
            });
            var refused = Assert.IsType<Microsoft.Extensions.Options.OptionsValidationException>(error);
            Assert.Empty(Directory.EnumerateFileSystemEntries(folder));
            return refused;
        }
        finally
        {
            TempFolder.Delete(folder);
        }
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "MirpsExchange.sln")))
            {
                return folder.FullName;
            }
        }
        throw new InvalidOperationException($"no MirpsExchange.sln above {AppContext.BaseDirectory}");
    }

    [Fact]
    public async Task The_node_listens_on_loopback_only()
    {
        await using var node = await TestNode.StartAsync();

        Assert.StartsWith("http://127.0.0.1:", node.Address);
    }
}
