using System.Collections.Frozen;
using Microsoft.AspNetCore.Http;
using Mirps.Catalog.V1;

namespace MirpsExchange.Web;

/// <summary>
/// The web app's own strings in its two languages, in one place (catalogue labels come from the
/// catalogue's LocalizedText, never from here). Spanish first: a request without the language cookie, or
/// with an unknown value, is answered in Spanish.
/// </summary>
public sealed partial class Texts
{
    public const string Spanish = "es";
    public const string English = "en";

    /// <summary>The cookie that remembers the language a person chose (a year).</summary>
    public const string CookieName = "mirps-lang";

    public static readonly Texts Es = new(Spanish);
    public static readonly Texts En = new(English);

    private static readonly FrozenDictionary<string, (string Es, string En)> Strings = new Dictionary<string, (string, string)>
    {
        ["app.name"] = ("Intercambio de información MIRPS", "MIRPS information exchange"),
        ["app.secretariat"] = ("Secretaría Técnica", "Technical Secretariat"),
        ["app.node"] = ("Nodo de {0}", "{0}'s node"),
        ["app.identity"] = ("Servidor de identidad", "Identity server"),
        ["skip"] = ("Saltar al contenido principal", "Skip to main content"),
        ["language.switch"] = ("English", "Español"),
        ["language.switch.label"] = ("Read this page in English", "Leer esta página en español"),
        ["nav.label"] = ("Navegación principal", "Main navigation"),
        ["nav.home"] = ("Inicio", "Home"),
        ["nav.regional"] = ("Indicadores regionales", "Regional indicators"),
        ["nav.completeness"] = ("Completitud", "Completeness"),
        ["nav.charts"] = ("Gráficos", "Charts"),
        ["nav.own"] = ("Datos propios", "Own data"),
        ["nav.shared"] = ("Datos compartidos", "Shared with us"),
        ["nav.upload"] = ("Cargar datos", "Upload"),
        ["nav.sync"] = ("Sincronización", "Sync status"),
        ["nav.admin"] = ("Administración", "Administration"),
        ["user.signedin"] = ("Sesión de {0}", "Signed in as {0}"),
        ["user.signout"] = ("Cerrar sesión", "Sign out"),
        ["user.signin"] = ("Iniciar sesión", "Sign in"),
        ["role.state"] = ("Estado", "State"),
        ["role.secretariat"] = ("Secretaría", "Secretariat"),
        ["role.admin"] = ("Administración", "Administrator"),
        ["home.title"] = ("Inicio", "Home"),
        ["home.welcome"] = ("Bienvenida", "Welcome"),
        ["home.intro"] = ("Plataforma de los Estados MIRPS para compartir cifras de protección, con el catálogo común {0}.",
            "The MIRPS States' platform for sharing protection figures, on the common catalogue {0}."),
        ["home.account"] = ("Su cuenta", "Your account"),
        ["home.role"] = ("Perfil", "Role"),
        ["home.country"] = ("Estado", "State"),
        ["home.user"] = ("Usuario", "User"),
        ["home.indicators"] = ("Indicadores del catálogo", "Catalogue indicators"),
        ["home.indicators.caption"] = ("Indicadores del catálogo {0} que este nodo sirve", "Indicators of catalogue {0} this node serves"),
        ["col.code"] = ("Código", "Code"),
        ["col.indicator"] = ("Indicador", "Indicator"),
        ["signin.unconfigured"] = ("Este sitio aún no tiene un cliente registrado en el servidor de identidad (Web:ClientId).",
            "This site has no client registered at the identity server yet (Web:ClientId)."),
        ["signin.failed"] = ("No se pudo iniciar la sesión: {0}", "Signing in failed: {0}"),
        ["signin.again"] = ("Volver a intentarlo", "Try again"),
        ["denied.title"] = ("Acceso denegado", "Access denied"),
        ["denied.text"] = ("Su cuenta no puede abrir esta página.", "Your account cannot open this page."),
        ["notfound.title"] = ("Página no encontrada", "Page not found"),
        ["error.service"] = ("El servicio respondió: {0}", "The service answered: {0}"),
        ["footer"] = ("MIRPS: Marco Integral Regional para la Protección y Soluciones", "MIRPS: Comprehensive Regional Protection and Solutions Framework"),
    }.Concat(AdminStrings()).Concat(ChartStrings()).ToFrozenDictionary(StringComparer.Ordinal);

    private Texts(string language) => Language = language;

    /// <summary>es or en.</summary>
    public string Language { get; }

    public bool IsEnglish => Language == English;

    /// <summary>The other language, offered on every page.</summary>
    public string Other => IsEnglish ? Spanish : English;

    public string this[string key] => Strings.TryGetValue(key, out var text) ? (IsEnglish ? text.En : text.Es)
        : throw new KeyNotFoundException($"No web text '{key}'.");

    public string Format(string key, params object?[] values) => string.Format(System.Globalization.CultureInfo.InvariantCulture, this[key], values);

    /// <summary>A catalogue label in this language (the other language when this one is empty).</summary>
    public string Label(LocalizedText? text) => text is null ? "" : IsEnglish ? (text.En.Length > 0 ? text.En : text.Es) : (text.Es.Length > 0 ? text.Es : text.En);

    /// <summary>The language of a request: its cookie, else Spanish.</summary>
    public static Texts Of(HttpContext? http) =>
        http?.Request.Cookies[CookieName] == English ? En : Es;

    /// <summary>Every key, for the test that both languages are filled.</summary>
    internal static IEnumerable<(string Key, string Es, string En)> All => Strings.Select(s => (s.Key, s.Value.Es, s.Value.En));
}
