using System.Globalization;
using System.Text;
using Grpc.Core;

namespace MirpsExchange.Node.Sync;

/// <summary>
/// Text a peer chose (an error's detail, a name it claims) as the node's own messages may carry it: quoted, so it reads as
/// the peer's words and never as the node's (the message attributes it: "CRI's node answered Unavailable: "…""), on one line,
/// without control characters, terminal escapes or bidi controls, and capped. Refusals (GetSyncStatus.write_refusal, which
/// mirps sync status, the web page and the recovery health check show) and logs carry peer text only through here; where a
/// reason code of ours says it (a gRPC status code, a <see cref="ReplicaRules"/> reason), that is used instead of the peer's words.
/// </summary>
public static class PeerText
{
    /// <summary>The most characters of a peer's text a message carries (the rest is cut, with "…").</summary>
    public const int MaxLength = 160;

    /// <summary><paramref name="text"/> quoted ("…"), cleaned and capped at <paramref name="max"/> (<see cref="Clean"/>); its own double quotes become single ones.</summary>
    public static string Quote(string? text, int max = MaxLength) => $"\"{Clean(text, max).Replace('"', '\'')}\"";

    /// <summary>
    /// What a call to a peer failed with, in our words where we have them: a status the peer answered is its gRPC code (ours)
    /// and its detail quoted; a refusal of what it sent is our reason and message (<see cref="PeerRefusedException.Error"/>,
    /// which quotes any peer text it names); anything else (a connection refused, a token not issued) is the local error, on one line.
    /// </summary>
    public static string Of(Exception e) => e switch
    {
        RpcException { Status.DebugException: null } rpc => $"answered {rpc.StatusCode}: {Quote(rpc.Status.Detail)}",
        RpcException rpc => $"failed ({rpc.StatusCode}: {Clean(rpc.Status.Detail, MaxLength)})",
        PeerRefusedException refused => refused.Error,
        _ => Clean(e.Message, 4 * MaxLength),
    };

    /// <summary>
    /// <paramref name="text"/> on one line: control characters (line breaks, escape, bell…), terminal escape sequences (ESC [ …),
    /// and format characters (bidi overrides, zero-width) removed or made spaces, runs of spaces made one, cut at
    /// <paramref name="max"/> characters with "…".
    /// </summary>
    public static string Clean(string? text, int max = int.MaxValue)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "";
        }
        var clean = new StringBuilder(Math.Min(text.Length, max == int.MaxValue ? text.Length : max + 1));
        for (var i = 0; i < text.Length && clean.Length <= max; i++)
        {
            var c = text[i];
            if (c == '\u001b' || c == '\u009b')
            {
                i = EndOfEscape(text, i);
                continue;
            }
            var category = CharUnicodeInfo.GetUnicodeCategory(c);
            if (char.IsControl(c) || char.IsWhiteSpace(c) || category is UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
            {
                if (clean.Length > 0 && clean[^1] != ' ')
                {
                    clean.Append(' ');
                }
                continue;
            }
            if (category is UnicodeCategory.Format)
            {
                continue;
            }
            clean.Append(c);
        }
        if (clean.Length > max)
        {
            clean.Length = max;
            return clean.ToString().TrimEnd() + "…";
        }
        return clean.ToString().TrimEnd();
    }

    /// <summary>Where the escape sequence starting at <paramref name="start"/> ends: CSI (ESC [ or U+009B, parameters, a final byte) or ESC and one character.</summary>
    private static int EndOfEscape(string text, int start)
    {
        var i = start + 1;
        if (text[start] == '\u001b')
        {
            if (i >= text.Length)
            {
                return start;
            }
            if (text[i] != '[')
            {
                return i; // ESC and one character (a two-character escape)
            }
            i++;
        }
        while (i < text.Length && text[i] is >= '\u0020' and <= '\u003f')
        {
            i++; // parameter and intermediate bytes
        }
        return i < text.Length && text[i] is >= '\u0040' and <= '\u007e' ? i : i - 1;
    }
}
