using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Http;

namespace MirpsExchange.Web.Components;

/// <summary>A page or part of one: the request (static SSR renders within it) and its language.</summary>
public abstract class WebPage : ComponentBase
{
    [CascadingParameter] public HttpContext? HttpContext { get; set; }

    [Inject] public WebHost Host { get; set; } = default!;

    protected Texts T => Texts.Of(HttpContext);

    /// <summary>The page's title in the current language: the browser tab names the site too.</summary>
    protected string Title(string title) => $"{title} · {T["app.name"]}";
}
