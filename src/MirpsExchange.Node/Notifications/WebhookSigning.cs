using System.Security.Cryptography;
using System.Text;
using MirpsExchange.ServiceDefaults;

namespace MirpsExchange.Node.Notifications;

/// <summary>
/// The signature a receiver checks (docs/webhooks.md): Mirps-Webhook-Signature = "v1=" + base64(HMAC-SHA256(secret,
/// event id + "." + Mirps-Webhook-Timestamp + "." + the exact body)). A subscription's secret is derived from the node's
/// webhook key (<see cref="WebhookOptions.SecretKeyFile"/>, owner-only, created at first start) and the subscription's id,
/// so the store holds no secret and the node signs every retry with the same one.
/// </summary>
public sealed class WebhookSigning
{
    public const string IdHeader = "Mirps-Webhook-Id";
    public const string TimestampHeader = "Mirps-Webhook-Timestamp";
    public const string SignatureHeader = "Mirps-Webhook-Signature";

    private readonly byte[] _key;

    public WebhookSigning(byte[] key) => _key = key;

    /// <summary>The node's key from <paramref name="file"/>, created there (32 random bytes, base64, owner-only) when absent.</summary>
    public static WebhookSigning FromFile(string file)
    {
        OwnerOnlyFile.Require(file, "Webhooks:SecretKeyFile");
        if (!File.Exists(file))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
            try
            {
                OwnerOnlyFile.WriteAllText(file, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
            }
            catch (IOException) when (File.Exists(file))
            {
                // another start created it meanwhile
            }
        }
        var key = Convert.FromBase64String(File.ReadAllText(file).Trim());
        if (key.Length < 32)
        {
            throw new InvalidOperationException($"Webhooks:SecretKeyFile {file} must hold at least 32 bytes, base64.");
        }
        return new WebhookSigning(key);
    }

    /// <summary>The secret of subscription <paramref name="subscriptionId"/> (32 bytes).</summary>
    public byte[] Secret(string subscriptionId) => HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes("mirps-webhook-secret:" + subscriptionId));

    /// <summary>The Mirps-Webhook-Signature value of a body.</summary>
    public static string Sign(byte[] secret, string eventId, long timestamp, string body) =>
        "v1=" + Convert.ToBase64String(HMACSHA256.HashData(secret, Encoding.UTF8.GetBytes($"{eventId}.{timestamp}.{body}")));

    /// <summary>
    /// What a receiver does: the signature matches (compared in constant time) and the timestamp is within
    /// <paramref name="tolerance"/> of <paramref name="now"/> (a replay later is refused).
    /// </summary>
    public static bool Verify(byte[] secret, string eventId, string timestamp, string body, string signature, DateTimeOffset now, TimeSpan tolerance)
    {
        if (!long.TryParse(timestamp, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
            || Math.Abs(now.ToUnixTimeSeconds() - seconds) > tolerance.TotalSeconds)
        {
            return false;
        }
        var expected = Encoding.ASCII.GetBytes(Sign(secret, eventId, seconds, body));
        return signature.Split(' ').Any(s => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(s), expected));
    }
}
