namespace MirpsExchange.Identity.Credentials;

public static class CredentialExtensions
{
    /// <summary>Issuing, rotating and revoking credentials and the States' log keys (the admin API's work), with the catalogue that names the States.</summary>
    public static WebApplicationBuilder AddCredentialAdministration(this WebApplicationBuilder builder, MirpsExchange.Catalogue.StandardCatalogue catalogue)
    {
        builder.Services.AddSingleton(catalogue);
        builder.Services.AddScoped<CredentialAdministration>();
        builder.Services.AddScoped<LogKeyAdministration>();
        return builder;
    }
}
