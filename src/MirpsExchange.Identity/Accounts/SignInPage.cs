using System.Text;
using System.Text.Encodings.Web;

namespace MirpsExchange.Identity.Accounts;

/// <summary>
/// The sign-in pages, rendered on the server: plain HTML forms with a label for every field, errors
/// announced (role="alert"), Spanish first and English one link away (?lang=en). No script.
/// </summary>
internal static class SignInPage
{
    public const string English = "en";
    public const string Spanish = "es";

    private static readonly Dictionary<string, (string Es, string En)> Texts = new()
    {
        ["title.login"] = ("Iniciar sesión — MIRPS", "Sign in — MIRPS"),
        ["title.two-factor"] = ("Código de verificación — MIRPS", "Verification code — MIRPS"),
        ["title.enrol"] = ("Configurar la verificación en dos pasos — MIRPS", "Set up two-step verification — MIRPS"),
        ["title.change-password"] = ("Cambiar la contraseña — MIRPS", "Change your password — MIRPS"),
        ["user_name"] = ("Usuario", "User name"),
        ["password"] = ("Contraseña", "Password"),
        ["new_password"] = ("Nueva contraseña (al menos 12 caracteres)", "New password (at least 12 characters)"),
        ["confirm_password"] = ("Repita la nueva contraseña", "Repeat the new password"),
        ["code"] = ("Código de 6 cifras de su aplicación de autenticación", "6-digit code from your authenticator app"),
        ["submit.login"] = ("Entrar", "Sign in"),
        ["submit.verify"] = ("Verificar", "Verify"),
        ["submit.change"] = ("Cambiar la contraseña", "Change password"),
        ["enrol.key"] = ("Añada esta clave a su aplicación de autenticación (TOTP, 6 cifras, 30 segundos):", "Add this key to your authenticator app (TOTP, 6 digits, 30 seconds):"),
        ["enrol.uri"] = ("o este enlace otpauth:", "or this otpauth link:"),
        ["change.why"] = ("Su contraseña es temporal: elija una nueva.", "Your password is temporary: choose a new one."),
        ["error.credentials"] = ("Usuario o contraseña incorrectos.", "Wrong user name or password."),
        ["error.locked"] = ("Demasiados intentos fallidos: la cuenta está bloqueada por un tiempo. Inténtelo más tarde o pida ayuda a un administrador.",
            "Too many failed attempts: the account is locked for a while. Try again later or ask an administrator."),
        ["error.throttled"] = ("Demasiados intentos desde esta dirección: espere unos minutos e inténtelo de nuevo.",
            "Too many attempts from this address: wait a few minutes and try again."),
        ["error.code"] = ("El código no es válido.", "The code is not valid."),
        ["error.mismatch"] = ("Las contraseñas no coinciden.", "The passwords do not match."),
        ["error.same"] = ("La nueva contraseña debe ser distinta de la temporal.", "The new password must differ from the temporary one."),
        ["error.weak"] = ("La contraseña debe tener al menos 12 caracteres.", "The password needs at least 12 characters."),
        ["error.expired"] = ("La sesión de inicio caducó: vuelva a empezar desde la aplicación.", "The sign-in expired: start again from the application."),
        ["switch"] = ("English", "Español"),
    };

    /// <summary>Encodes markup characters only: Spanish letters stay as typed (the page is UTF-8).</summary>
    public static readonly HtmlEncoder Html = HtmlEncoder.Create(System.Text.Unicode.UnicodeRanges.All);

    public static string Encode(string text) => Html.Encode(text);

    public static string Language(HttpRequest request) =>
        string.Equals(request.Query["lang"], English, StringComparison.OrdinalIgnoreCase) || string.Equals(request.HasFormContentType ? request.Form["lang"].ToString() : "", English, StringComparison.OrdinalIgnoreCase)
            ? English
            : Spanish;

    public static string Text(string language, string key) => language == English ? Texts[key].En : Texts[key].Es;

    /// <summary>A form page: <paramref name="fields"/> are (name, label key, input type, autocomplete).</summary>
    public static IResult Render(
        HttpContext http, string language, string page, string action, string antiforgeryField, string antiforgeryToken, string returnUrl,
        IEnumerable<(string Name, string Label, string Type, string Autocomplete)> fields, string submit, string? error = null, string? preface = null, int status = 200)
    {
        var html = Html;
        var other = language == English ? Spanish : English;
        var body = new StringBuilder();
        body.Append("<!DOCTYPE html>\n<html lang=\"").Append(language).Append("\">\n<head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
            .Append("<title>").Append(html.Encode(Text(language, "title." + page))).Append("</title>")
            .Append("<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem;color:#111;background:#fff}")
            .Append("label{display:block;margin-top:1rem}input{display:block;width:100%;padding:.5rem;font-size:1rem;border:1px solid #555}")
            .Append("button{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem;background:#0b4f8a;color:#fff;border:0}")
            .Append(":focus{outline:3px solid #c60;outline-offset:2px}[role=alert]{color:#a00;font-weight:bold}code{word-break:break-all}</style></head>\n<body>\n")
            .Append("<nav><a href=\"").Append(html.Encode(SwitchLink(http, other))).Append("\" lang=\"").Append(other).Append("\">")
            .Append(html.Encode(Text(language, "switch"))).Append("</a></nav>\n<main>\n<h1>")
            .Append(html.Encode(Text(language, "title." + page))).Append("</h1>\n");
        if (error is not null)
        {
            body.Append("<p role=\"alert\" id=\"error\">").Append(html.Encode(Text(language, error))).Append("</p>\n");
        }
        if (preface is not null)
        {
            body.Append(preface);
        }
        body.Append("<form method=\"post\" action=\"").Append(html.Encode(action)).Append("\">\n")
            .Append("<input type=\"hidden\" name=\"").Append(html.Encode(antiforgeryField)).Append("\" value=\"").Append(html.Encode(antiforgeryToken)).Append("\">\n")
            .Append("<input type=\"hidden\" name=\"return_url\" value=\"").Append(html.Encode(returnUrl)).Append("\">\n")
            .Append("<input type=\"hidden\" name=\"lang\" value=\"").Append(language).Append("\">\n");
        var first = true;
        foreach (var (name, label, type, autocomplete) in fields)
        {
            body.Append("<label for=\"").Append(name).Append("\">").Append(html.Encode(Text(language, label))).Append("</label>")
                .Append("<input id=\"").Append(name).Append("\" name=\"").Append(name).Append("\" type=\"").Append(type)
                .Append("\" autocomplete=\"").Append(autocomplete).Append("\" required");
            if (type == "text" && name == "code")
            {
                body.Append(" inputmode=\"numeric\" pattern=\"[0-9]{6}\" maxlength=\"6\"");
            }
            if (error is not null)
            {
                body.Append(" aria-describedby=\"error\"");
            }
            if (first)
            {
                body.Append(" autofocus");
                first = false;
            }
            body.Append(">\n");
        }
        body.Append("<button type=\"submit\">").Append(html.Encode(Text(language, submit))).Append("</button>\n</form>\n</main>\n</body>\n</html>\n");
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers["X-Frame-Options"] = "DENY";
        http.Response.Headers.ContentSecurityPolicy = $"default-src 'none'; style-src 'unsafe-inline'; form-action {FormAction(returnUrl)}; frame-ancestors 'none'";
        return Results.Content(body.ToString(), "text/html; charset=utf-8", Encoding.UTF8, status);
    }

    /// <summary>
    /// Where the form may lead: this server, and the origin of the client's redirect URI that the sign-in
    /// returns to (browsers apply form-action to the redirects after a post too, and the last step of a
    /// sign-in redirects to the client with the code). The authorization endpoint still accepts only the
    /// client's registered redirect URIs, so a crafted return URL widens nothing.
    /// </summary>
    private static string FormAction(string returnUrl)
    {
        var query = returnUrl.IndexOf('?', StringComparison.Ordinal) is var at and >= 0 ? returnUrl[at..] : "";
        var redirect = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(query).GetValueOrDefault("redirect_uri").ToString();
        return Uri.TryCreate(redirect, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
            && uri.GetLeftPart(UriPartial.Authority) is var origin && !origin.Contains(';', StringComparison.Ordinal) && !origin.Contains('\'', StringComparison.Ordinal)
            ? $"'self' {origin}"
            : "'self'";
    }

    /// <summary>The query string carrying a sign-in's return URL and language from page to page.</summary>
    public static string Query(string returnUrl, string language) => $"?return_url={Uri.EscapeDataString(returnUrl)}&lang={language}";

    private static string SwitchLink(HttpContext http, string language)
    {
        var returnUrl = http.Request.HasFormContentType ? http.Request.Form["return_url"].ToString() : http.Request.Query["return_url"].ToString();
        return http.Request.Path + Query(returnUrl, language);
    }
}
