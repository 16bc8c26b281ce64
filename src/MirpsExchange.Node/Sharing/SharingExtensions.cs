namespace MirpsExchange.Node.Sharing;

public static class SharingExtensions
{
    /// <summary>The origin's sharing policy per indicator (Node:Sharing, checked with the rest of the Node section).</summary>
    public static WebApplicationBuilder AddSharing(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SharingPolicies>();
        builder.Services.AddSingleton<SuppressionMethods>(); // the complementary-suppression methods this node implements and declares
        builder.Services.AddScoped<Grpc.ObservationReads>(); // a query's answer as a reader receives it: gRPC and SDMX REST alike
        return builder;
    }
}
