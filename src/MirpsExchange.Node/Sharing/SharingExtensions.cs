namespace MirpsExchange.Node.Sharing;

public static class SharingExtensions
{
    /// <summary>The origin's sharing policy per indicator (Node:Sharing, checked with the rest of the Node section).</summary>
    public static WebApplicationBuilder AddSharing(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<SharingPolicies>();
        return builder;
    }
}
