using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Mirps.Catalog.V1;
using Mirps.Observation.V1;
using MirpsExchange.Node.Extensions;

namespace MirpsExchange.FunctionalTests.Infrastructure;

/// <summary>
/// A real node (the same builder Program.cs uses) on real Kestrel at 127.0.0.1 with an ephemeral port
/// and its SQLite store in a temporary folder that is deleted afterwards.
/// </summary>
public sealed class TestNode : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestNode(WebApplication app, string folder, string country)
    {
        _app = app;
        Folder = folder;
        Country = country;
        Address = app.ListeningAddress();
        Channel = GrpcChannel.ForAddress(Address);
        Observations = new ObservationService.ObservationServiceClient(Channel);
        Catalog = new CatalogService.CatalogServiceClient(Channel);
    }

    public string Folder { get; }
    public string Country { get; }
    public string Address { get; }
    public GrpcChannel Channel { get; }
    public ObservationService.ObservationServiceClient Observations { get; }
    public CatalogService.CatalogServiceClient Catalog { get; }
    public string DatabasePath => Path.Combine(Folder, "data", $"node-{Country.ToLowerInvariant()}.db");

    public static async Task<TestNode> StartAsync(string country = "BLZ", params string[] extraArgs)
    {
        var folder = TempFolder.Create();
        string[] args =
        [
            $"--Node:Country={country}",
            $"--Node:DataDirectory={Path.Combine(folder, "data")}",
            "--Node:Port=0",
            $"--contentRoot={folder}",
            "--Logging:LogLevel:Default=Warning",
            .. extraArgs,
        ];
        try
        {
            var app = await NodeApplication.BuildAsync(args);
            await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
            return new TestNode(app, folder, country);
        }
        catch
        {
            TempFolder.Delete(folder);
            throw;
        }
    }

    /// <summary>Counts rows straight from the store file: what a test asserts was (not) written.</summary>
    public long CountRows(string table = "observations") => (long)Execute($"SELECT COUNT(*) FROM {table}")!;

    /// <summary>Runs SQL on the store file directly, behind the node's back (to age or inspect rows).</summary>
    public object? Execute(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await _app.DisposeAsync();
        SqliteConnection.ClearAllPools();
        TempFolder.Delete(Folder);
    }
}

public static class TempFolder
{
    public static string Create()
    {
        var folder = Path.Combine(Path.GetTempPath(), "mirps-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        return folder;
    }

    public static void Delete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // a file still held open by a dying process; the OS temp cleaner takes it
        }
    }
}
