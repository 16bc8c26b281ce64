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
        ["app.node"] = ("Nodo de {0}", "{0} node"),
        ["app.identity"] = ("Servidor de identidad", "Identity server"),
        ["skip"] = ("Saltar al contenido principal", "Skip to main content"),
        ["language.switch"] = ("English", "Español"),
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
        // A State's pages at its node: own data, shared data, upload, sync status.
        ["col.country"] = ("Estado", "State"),
        ["col.period"] = ("Período", "Period"),
        ["col.value"] = ("Valor", "Value"),
        ["col.note"] = ("Nota", "Note"),
        ["col.attributes"] = ("Atributos", "Attributes"),
        ["col.breakdown"] = ("Desglose", "Breakdown"),
        ["col.revision"] = ("Revisión", "Revision"),
        ["col.recorded"] = ("Registrado (UTC)", "Recorded (UTC)"),
        ["filter.legend"] = ("Filtrar", "Filter"),
        ["filter.any"] = ("Todos", "All"),
        ["filter.from"] = ("Desde el período", "From period"),
        ["filter.to"] = ("Hasta el período", "To period"),
        ["filter.period.hint"] = ("p. ej. 2023, 2023-Q1 o 2023-01", "e.g. 2023, 2023-Q1 or 2023-01"),
        ["filter.asof"] = ("Cifras al (UTC)", "Figures as of (UTC)"),
        ["filter.apply"] = ("Aplicar", "Apply"),
        ["table.asof"] = ("Cifras al {0} UTC", "Figures as of {0} UTC"),
        ["table.now"] = ("Cifras actuales, leídas el {0} UTC", "Current figures, read on {0} UTC"),
        ["table.empty"] = ("Ninguna observación coincide con el filtro.", "No observation matches the filter."),
        ["table.page"] = ("Observaciones {0} a {1} ({2} por página).", "Observations {0} to {1} ({2} per page)."),
        ["page.nav"] = ("Páginas de observaciones", "Pages of observations"),
        ["page.previous"] = ("← Página anterior", "← Previous page"),
        ["page.next"] = ("Página siguiente →", "Next page →"),
        ["page.beyond"] = ("Se muestran como máximo {0} páginas de {1} observaciones: acote el filtro (indicador, periodos, desgloses) para ver las demás.",
            "At most {0} pages of {1} observations are shown: narrow the filter (indicator, periods, breakdowns) to see the rest."),
        ["table.count"] = ("{0} observaciones", "{0} observations"),
        ["withheld.small"] = ("Reservado (cifra pequeña)", "Withheld (small count)"),
        ["withheld.complementary"] = ("Reservado (supresión complementaria)", "Withheld (complementary suppression)"),
        ["withheld.other"] = ("Reservado", "Withheld"),
        ["own.title"] = ("Datos propios", "Own data"),
        ["own.intro"] = ("Las cifras que {0} ha enviado a su nodo, con sus atributos y su estado.", "The figures {0} submitted to its node, with their attributes and status."),
        ["own.caption"] = ("Cifras de {0}", "Figures of {0}"),
        ["shared.title"] = ("Datos compartidos", "Shared with us"),
        ["shared.intro"] = ("Las cifras de otros Estados que este nodo recibió y que su cuenta puede leer según la política de cada Estado de origen. Una cifra reservada se indica como reservada, nunca como 0.",
            "Other States' figures this node received and your account may read under each origin's policy. A withheld figure is shown as withheld, never as 0."),
        ["shared.caption"] = ("Cifras compartidas por {0}", "Figures shared by {0}"),
        ["shared.caption.all"] = ("Cifras compartidas por otros Estados", "Figures shared by other States"),
        ["shared.none"] = ("Este nodo aún no tiene datos de otros Estados.", "This node holds no other State's data yet."),
        ["shared.origin"] = ("Estado de origen", "Origin State"),
        ["sync.title"] = ("Sincronización", "Sync status"),
        ["sync.catalogue"] = ("Catálogo", "Catalogue"),
        ["sync.digest"] = ("Huella del catálogo", "Catalogue digest"),
        ["sync.node"] = ("Estado del nodo", "Node's State"),
        ["sync.origins"] = ("Registros de cambios que este nodo tiene, por Estado de origen", "Change logs this node holds, by origin State"),
        ["sync.origins.none"] = ("Este nodo aún no tiene ningún cambio.", "This node holds no change yet."),
        ["sync.sequence"] = ("Último número de secuencia", "Latest sequence number"),
        ["sync.lastchange"] = ("Último cambio (UTC)", "Last change (UTC)"),
        ["sync.peers"] = ("Descargas de este nodo desde sus pares", "This node's pulls from its peers"),
        ["sync.peers.none"] = ("Este nodo no descarga de ningún par.", "This node pulls from no peer."),
        ["sync.peers.withheld"] = ("Los pares de este nodo y sus errores solo se muestran a su Estado y a la Secretaría.", "This node's peers and their errors are shown only to its State and the Secretariat."),
        ["sync.address"] = ("Dirección del par", "Peer address"),
        ["sync.state"] = ("Situación", "State"),
        ["sync.applied"] = ("Secuencia aplicada", "Applied sequence"),
        ["sync.error"] = ("Último error", "Last error"),
        ["sync.state.connecting"] = ("Conectando", "Connecting"),
        ["sync.state.connected"] = ("Conectado", "Connected"),
        ["sync.state.failing"] = ("Con fallos (se reintenta)", "Failing (retrying)"),
        ["sync.state.stopped"] = ("Detenido", "Stopped"),
        ["upload.title"] = ("Cargar datos", "Upload"),
        ["upload.intro"] = ("Cargue un archivo CSV con el formato estándar o la plantilla xlsx. Se valida fila por fila y con las reglas del catálogo antes de escribir nada; después usted confirma el envío.",
            "Upload a CSV file in the standard layout or the xlsx template. It is validated row by row and against the catalogue's rules before anything is written; then you confirm the submission."),
        ["upload.file"] = ("Archivo (.csv o .xlsx)", "File (.csv or .xlsx)"),
        ["upload.limits"] = ("Como máximo {0} y {1} observaciones por archivo.", "At most {0} and {1} observations per file."),
        ["upload.validate"] = ("Validar el archivo", "Validate the file"),
        ["upload.file.name"] = ("Archivo: {0}", "File: {0}"),
        ["upload.read"] = ("{0} observaciones leídas.", "{0} observations read."),
        ["upload.skipped"] = ("{0} filas sin valor no se leyeron.", "{0} rows without a value were not read."),
        ["upload.too.large"] = ("El archivo supera el límite de {0}. Divídalo en archivos más pequeños.", "The file is over the {0} limit. Split it into smaller files."),
        ["upload.busy"] = ("El nodo ya está leyendo {0} archivos a la vez, su máximo. Vuelva a intentarlo en unos segundos.", "The node is already reading {0} files at once, its most. Try again in a few seconds."),
        ["upload.busy.account"] = ("Ya tiene {0} archivo(s) enviándose o en lectura, su máximo. Espere a que termine y vuelva a intentarlo.", "You already have {0} file(s) being sent or read, your most. Wait for it to finish and try again."),
        ["upload.no.file"] = ("Elija un archivo.", "Choose a file."),
        ["upload.bad.type"] = ("Solo se aceptan archivos .csv o .xlsx.", "Only .csv or .xlsx files are accepted."),
        ["upload.empty"] = ("El archivo no tiene ninguna observación.", "The file holds no observation."),
        ["upload.problems"] = ("Errores en el archivo", "Errors in the file"),
        ["upload.problems.count"] = ("{0} errores. No se escribió nada: corrija el archivo y vuelva a cargarlo.", "{0} errors. Nothing was written: correct the file and upload it again."),
        ["upload.sheet"] = ("Hoja", "Sheet"),
        ["upload.row"] = ("Fila o línea", "Row or line"),
        ["upload.column"] = ("Columna", "Column"),
        ["upload.message"] = ("Problema", "Problem"),
        ["upload.severity"] = ("Gravedad", "Severity"),
        ["upload.error"] = ("Error", "Error"),
        ["upload.warning"] = ("Advertencia", "Warning"),
        ["upload.warnings"] = ("Advertencias de las reglas de validación (no impiden el envío)", "Validation rule warnings (they do not stop the submission)"),
        ["upload.valid"] = ("El archivo es válido. Todavía no se ha escrito nada.", "The file is valid. Nothing has been written yet."),
        ["upload.preview"] = ("Observaciones que se enviarán", "Observations to be submitted"),
        ["upload.preview.more"] = ("y {0} más.", "and {0} more."),
        ["upload.confirm"] = ("Confirmar y enviar", "Confirm and submit"),
        ["upload.written"] = ("Enviado: {0} nuevas, {1} revisadas, {2} sin cambios.", "Submitted: {0} new, {1} revised, {2} unchanged."),
        ["upload.replayed"] = ("Este envío ya se había realizado; no se escribió nada de nuevo.", "This submission had already been made; nothing was written again."),
        ["upload.refused"] = ("El nodo rechazó el envío: {0}", "The node refused the submission: {0}"),
        ["upload.expired"] = ("Esta carga no existe o ha caducado. Cargue el archivo de nuevo.", "This upload does not exist or has expired. Upload the file again."),
        ["upload.another"] = ("Cargar otro archivo", "Upload another file"),
        ["upload.file.whole"] = ("(todo el archivo)", "(whole file)"),
        ["signin.unconfigured"] = ("Este sitio aún no tiene un cliente registrado en el servidor de identidad (Web:ClientId).",
            "This site has no client registered at the identity server yet (Web:ClientId)."),
        ["signin.failed"] = ("No se pudo iniciar la sesión: {0}", "Signing in failed: {0}"),
        ["signin.again"] = ("Volver a intentarlo", "Try again"),
        ["denied.title"] = ("Acceso denegado", "Access denied"),
        ["denied.text"] = ("Su cuenta no puede abrir esta página.", "Your account cannot open this page."),
        ["notfound.title"] = ("Página no encontrada", "Page not found"),
        ["error.service"] = ("El servicio respondió: {0}", "The service answered: {0}"),
        ["regional.title"] = ("Indicadores regionales", "Regional indicators"),
        ["regional.intro"] = ("Sumas de lo que reportaron los Estados MIRPS, calculadas por la Secretaría a partir de sus registros firmados. Un total parcial (falta un Estado) no es el total regional.",
            "Sums of what the MIRPS States reported, computed by the Secretariat from their signed logs. A partial total (a State missing) is not the regional total."),
        ["regional.period"] = ("Período (2023, 2023-Q1 o 2023-01)", "Period (2023, 2023-Q1 or 2023-01)"),
        ["regional.asof"] = ("Datos a la fecha (UTC; vacío: ahora)", "Data as of (UTC; empty: now)"),
        ["regional.show"] = ("Mostrar", "Show"),
        ["regional.caption"] = ("Indicadores regionales, región MIRPS, {0}, datos al {1} UTC", "Regional indicators, MIRPS region, {0}, data as of {1} UTC"),
        ["regional.value"] = ("Valor regional", "Regional value"),
        ["regional.coverage"] = ("Cobertura", "Coverage"),
        ["regional.flags"] = ("Señales", "Flags"),
        ["regional.none"] = ("sin datos", "no data"),
        ["regional.partial"] = ("parcial", "partial"),
        ["regional.complete"] = ("completo: {0} de {1} Estados", "complete: {0} of {1} States"),
        ["regional.missing"] = ("parcial: {0} de {1} Estados; faltan {2}", "partial: {0} of {1} States; missing {2}"),
        ["regional.nobody"] = ("ningún Estado reportó", "no State reported"),
        ["regional.badperiod"] = ("«{0}» no es un período: use 2023, 2023-Q1 o 2023-01.", "'{0}' is not a period: use 2023, 2023-Q1 or 2023-01."),
        ["regional.downloads"] = ("Descargar lo que se muestra", "Download what is shown"),
        ["regional.link"] = ("Enlace a esta vista", "Link to this view"),
        ["flag.provisional"] = ("provisional", "provisional"),
        ["flag.estimated"] = ("estimado", "estimated"),
        ["flag.lowerbound"] = ("cota inferior (al menos)", "lower bound (at least)"),
        ["flag.synthetic"] = ("ilustrativo (no oficial)", "illustrative (not official)"),
        ["rates.title"] = ("Tasas de protección", "Protection rates"),
        ["rates.caption"] = ("Tasas de protección de las decisiones de primera instancia, {0}, a partir de las sumas regionales", "Protection rates of first-instance decisions, {0}, from the regional sums"),
        ["rates.rate"] = ("Tasa", "Rate"),
        ["rates.components"] = ("Numerador / denominador", "Numerator / denominator"),
        ["rates.rrr"] = ("Tasa de reconocimiento de la condición de refugiado (RRR)", "Refugee recognition rate (RRR)"),
        ["rates.tpr"] = ("Tasa de protección total (TPR)", "Total protection rate (TPR)"),
        ["rates.none"] = ("Las decisiones no se reportan con esta periodicidad.", "Decisions are not reported at this granularity."),
        ["completeness.title"] = ("Completitud de los reportes", "Completeness of reporting"),
        ["completeness.intro"] = ("Qué Estado reportó qué indicador en qué período, según los datos que la Secretaría había recibido a la fecha indicada.",
            "Which State reported which indicator for which period, as the Secretariat had received them at the time shown."),
        ["completeness.from"] = ("Desde el período", "From period"),
        ["completeness.to"] = ("Hasta el período", "To period"),
        ["completeness.caption"] = ("Completitud por indicador, período y Estado, {0} a {1}, datos al {2} UTC", "Completeness by indicator, period and State, {0} to {1}, data as of {2} UTC"),
        ["completeness.legend"] = ("Leyenda: ✓ reportado; p provisional; — falta.", "Legend: ✓ reported; p provisional; — missing."),
        ["completeness.chart"] = ("Mapa de calor de la completitud, {0}: indicadores por Estado (la tabla siguiente da las mismas cifras)",
            "Completeness heatmap, {0}: indicators by State (the table below gives the same figures)"),
        ["completeness.period"] = ("Período", "Period"),
        ["completeness.summary"] = ("Reportado", "Reported"),
        ["cycle.title"] = ("Ciclo de reporte: aprobación y puntualidad", "Reporting cycle: approval and timeliness"),
        ["cycle.intro"] = ("Dónde está cada grupo de indicadores de cada Estado en el ciclo (borrador, aprobado por el Estado, aceptado por la Secretaría) y si la aprobación llegó en el plazo del calendario de reporte.",
            "Where each State's indicator group stands in the cycle (draft, approved by the State, accepted by the Secretariat) and whether its approval came by the reporting calendar's due date."),
        ["cycle.caption"] = ("Aprobación y puntualidad por grupo, período y Estado, {0} a {1}", "Approval and timeliness by group, period and State, {0} to {1}"),
        ["cycle.group"] = ("Grupo de indicadores", "Indicator group"),
        ["cycle.due"] = ("Plazo: {0}", "Due: {0}"),
        ["cycle.rate.caption"] = ("Tasa de puntualidad por Estado (aprobaciones a tiempo entre las vencidas)", "Timeliness rate per State (approvals on time among those due)"),
        ["cycle.rate.due"] = ("Vencidas", "Due"),
        ["cycle.rate"] = ("Tasa de puntualidad", "Timeliness rate"),
        ["cycle.rate.value"] = ("{0:0} %", "{0:0}%"),
        ["cycle.rate.none"] = ("nada vencido aún", "nothing due yet"),
        ["cycle.nocalendar"] = ("La Secretaría no ha publicado un calendario de reporte: no hay plazos que juzgar.", "The Secretariat has published no reporting calendar: there are no due dates to judge."),
        ["cycle.noperiods"] = ("El calendario de reporte no fija plazos en este rango: {0}", "The reporting calendar sets no due date in this range: {0}"),
        ["approval.draft"] = ("borrador", "draft"),
        ["approval.approved"] = ("aprobado", "approved"),
        ["approval.accepted"] = ("aceptado", "accepted"),
        ["approval.changed"] = ("cambiado desde la aprobación", "changed since approval"),
        ["approval.rejected"] = ("rechazado", "rejected"),
        ["timeliness.ontime"] = ("a tiempo", "on time"),
        ["timeliness.late"] = ("tarde", "late"),
        ["timeliness.overdue"] = ("vencido", "overdue"),
        ["timeliness.latedays"] = ("tarde por {0} días", "late by {0} days"),
        ["timeliness.overduedays"] = ("vencido hace {0} días", "overdue by {0} days"),
        ["timeliness.notdue"] = ("vence el {0}", "due {0}"),
        ["state.reported"] = ("reportado", "reported"),
        ["state.provisional"] = ("provisional", "provisional"),
        ["state.missing"] = ("falta", "missing"),
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
