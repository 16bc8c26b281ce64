using System.CommandLine;
using Grpc.Core;
using Grpc.Net.Client;
using Mirps.Auth;
using Spectre.Console;

namespace MirpsExchange.Cli.Commands;

internal static class CommonOptions
{
    public static Option<Uri> Node() => AddressOption("--node", "MIRPS_NODE", "http://127.0.0.1:5100", "Address of the node");

    public static Option<Uri> Identity() => AddressOption("--identity", "MIRPS_IDENTITY", "http://127.0.0.1:5000/", "The identity server's issuer URL (its OAuth2 address)");

    public static Option<FileInfo?> Credential() => new("--credential")
    {
        Description = "JSON file with client_id and client_secret (default: environment variable MIRPS_CREDENTIAL; "
            + "or MIRPS_CLIENT_ID and MIRPS_CLIENT_SECRET)",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MIRPS_CREDENTIAL") is { Length: > 0 } path ? new FileInfo(path) : null,
    };

    /// <summary>
    /// --node-country: whose node --node is, so that the token asked for is good at that node only. Without it,
    /// the credential's own node (its State's, or the Secretariat's for a Secretariat credential).
    /// </summary>
    public static Option<string?> NodeCountry()
    {
        var option = new Option<string?>("--node-country")
        {
            Description = "Whose node --node is: the ISO3 code of its State, or \"secretariat\"; tokens are asked for that node only "
                + "(default: environment variable MIRPS_NODE_COUNTRY, else the credential's own node)",
            HelpName = "ISO3",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MIRPS_NODE_COUNTRY") is { Length: > 0 } value ? value : null,
        };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } value && !string.Equals(value, MirpsAuth.Secretariat, StringComparison.OrdinalIgnoreCase)
                && !MirpsExchange.Catalogue.StandardCatalogue.LoadStandard().ReportingCountries.Contains(value.ToUpperInvariant()))
            {
                result.AddError($"--node-country must be the ISO3 code of a MIRPS State or \"{MirpsAuth.Secretariat}\", not '{value}'");
            }
        });
        return option;
    }

    /// <summary>
    /// --ca: the CA certificate (PEM) that https servers must chain to; only it is trusted, not the machine's roots.
    /// Checked when parsed, so a wrong file is a usage error rather than a failed handshake.
    /// </summary>
    public static Option<FileInfo?> Ca()
    {
        var option = new Option<FileInfo?>("--ca")
        {
            Description = "CA certificate (PEM) that https servers must chain to, for example certs/ca.crt from `mirps certs create` "
                + "(default: environment variable MIRPS_CA; without it the machine's trust store)",
            HelpName = "FILE",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MIRPS_CA") is { Length: > 0 } path ? new FileInfo(path) : null,
        };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<FileInfo?>() is not { } file)
            {
                return;
            }
            try
            {
                Mirps.Tls.FederationTrust.LoadCa(file.FullName).Dispose();
            }
            catch (Exception e) when (e is IOException or InvalidDataException or System.Security.Cryptography.CryptographicException)
            {
                result.AddError($"--ca: {e.Message}");
            }
        });
        return option;
    }

    /// <summary>--client-cert: the PEM client certificate presented over TLS (mutual TLS; tokens are bound to it).</summary>
    public static Option<FileInfo?> ClientCertificate() => new("--client-cert")
    {
        Description = "Client certificate (PEM) presented to https servers, for example certs/pan-client.crt from `mirps certs create`; "
            + "tokens are bound to it (default: environment variable MIRPS_CLIENT_CERT)",
        HelpName = "FILE",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MIRPS_CLIENT_CERT") is { Length: > 0 } path ? new FileInfo(path) : null,
    };

    /// <summary>--client-key: the private key of --client-cert.</summary>
    public static Option<FileInfo?> ClientKey() => new("--client-key")
    {
        Description = "Private key (PEM) of --client-cert (default: environment variable MIRPS_CLIENT_KEY)",
        HelpName = "FILE",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MIRPS_CLIENT_KEY") is { Length: > 0 } path ? new FileInfo(path) : null,
    };

    /// <summary>The CA and client certificate of a command (its --ca, --client-cert and --client-key).</summary>
    public static Federation.ClientTls LoadTls(System.CommandLine.ParseResult parse, Option<FileInfo?> ca, Option<FileInfo?> certificate, Option<FileInfo?> key) =>
        Federation.ClientTls.Load(parse.GetValue(ca), parse.GetValue(certificate), parse.GetValue(key));

    /// <summary>--token-file: the person's login token (mirps login) a command uses when no client credential is given.</summary>
    public static Option<FileInfo?> TokenFile() => new("--token-file")
    {
        Description = "The login token mirps login kept, used when no client credential is given (default: environment variable MIRPS_TOKEN_FILE, "
            + "else mirps/token.json under your profile's application data when it exists)",
        HelpName = "FILE",
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MIRPS_TOKEN_FILE") is { Length: > 0 } path ? new FileInfo(path) : null,
    };

    /// <summary>
    /// Who a command calls as. The first of: --credential given on the command line; --token-file given on the command line;
    /// a credential from the environment (MIRPS_CREDENTIAL, or MIRPS_CLIENT_ID and MIRPS_CLIENT_SECRET); the login token named
    /// by MIRPS_TOKEN_FILE; the login token mirps login keeps under the profile, when it exists. A clear error otherwise.
    /// </summary>
    public static Caller ResolveCaller(ParseResult parse, Option<FileInfo?> credential, Option<FileInfo?> tokenFile)
    {
        static bool Typed(ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };
        if (Typed(parse, credential))
        {
            return new Caller(LoadCredential(parse.GetValue(credential)), null);
        }
        if (Typed(parse, tokenFile))
        {
            return Login(parse.GetValue(tokenFile)!.FullName);
        }
        if (parse.GetValue(credential) is not null
            || (Environment.GetEnvironmentVariable("MIRPS_CLIENT_ID") is { Length: > 0 } && Environment.GetEnvironmentVariable("MIRPS_CLIENT_SECRET") is { Length: > 0 }))
        {
            return new Caller(LoadCredential(parse.GetValue(credential)), null);
        }
        if (parse.GetValue(tokenFile) is { } named)
        {
            return Login(named.FullName);
        }
        var profile = LoginCommand.DefaultTokenFile();
        if (File.Exists(profile))
        {
            return new Caller(null, profile);
        }
        throw new InvalidDataException("No credential and no login: sign in with mirps login, or pass --credential FILE (or --token-file FILE), "
            + "or set MIRPS_CREDENTIAL, or MIRPS_CLIENT_ID and MIRPS_CLIENT_SECRET.");

        static Caller Login(string file) => File.Exists(file) ? new Caller(null, file)
            : throw new FileNotFoundException($"The login token file {file} does not exist: sign in with mirps login (--token-file {file}).", file);
    }

    /// <summary>The credential from the file given, or from MIRPS_CLIENT_ID and MIRPS_CLIENT_SECRET; a clear error otherwise.</summary>
    public static ClientCredential LoadCredential(FileInfo? file)
    {
        if (file is not null)
        {
            return ClientCredential.Load(file.FullName);
        }
        var id = Environment.GetEnvironmentVariable("MIRPS_CLIENT_ID");
        var secret = Environment.GetEnvironmentVariable("MIRPS_CLIENT_SECRET");
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(secret))
        {
            throw new InvalidDataException("No credential: pass --credential FILE, or set MIRPS_CREDENTIAL, or MIRPS_CLIENT_ID and MIRPS_CLIENT_SECRET.");
        }
        return new ClientCredential(id, secret);
    }

    /// <summary>A gRPC channel whose calls carry tokens from <paramref name="tokens"/> (cleartext only to a loopback address; https verified and the client certificate presented as <paramref name="tls"/> says).</summary>
    public static GrpcChannel AuthenticatedChannel(Uri address, IAccessTokenSource tokens, Federation.ClientTls? tls = null) => Federation.AuthenticatedChannel.Create(address, tokens, tls);

    /// <summary>An HttpClient for the identity server: https verified, and the client certificate presented, as <paramref name="tls"/> says.</summary>
    public static HttpClient HttpClient(Federation.ClientTls? tls) => new((tls ?? Federation.ClientTls.None).CreateHandler());

    /// <summary>
    /// A Spectre console writing to <paramref name="output"/>, at least <paramref name="minimumWidth"/> columns wide:
    /// redirected to a file or a pipe it would assume 80 and wrap every table row.
    /// </summary>
    public static IAnsiConsole Console(TextWriter output, int minimumWidth)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output) });
        console.Profile.Width = Math.Max(console.Profile.Width, minimumWidth);
        return console;
    }

    public static Uri TokenEndpoint(Uri issuer) => new(new Uri(issuer.ToString().TrimEnd('/') + "/"), MirpsAuth.TokenEndpointPath);

    /// <summary>
    /// An address option. A plain http:// address off this machine is a parse error, so every command refuses it
    /// before it reads a credential or sends anything (<see cref="Mirps.Tls.Cleartext"/>).
    /// </summary>
    public static Option<Uri> AddressOption(string name, string variable, string fallback, string description)
    {
        var option = new Option<Uri>(name)
        {
            Description = $"{description} (default: environment variable {variable}, else {fallback})",
            DefaultValueFactory = _ => new Uri(Environment.GetEnvironmentVariable(variable) is { Length: > 0 } value ? value : fallback),
            CustomParser = result =>
            {
                var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
                if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https")
                {
                    return uri;
                }
                result.AddError($"{name} must be an http:// or https:// address such as {fallback}, not '{text}'");
                return null;
            },
        };
        option.Validators.Add(result =>
        {
            var given = result.Implicit ? $"{name} (from environment variable {variable})" : name;
            if (result.GetValueOrDefault<Uri?>() is { } address && Mirps.Tls.Cleartext.Refusal(given, address) is { } refusal)
            {
                result.AddError(refusal);
            }
        });
        return option;
    }
}

/// <summary>Who a command calls as: a system's client credential, or a person's login token file (<see cref="CommonOptions.ResolveCaller"/>).</summary>
public sealed record Caller(ClientCredential? Credential, string? LoginFile)
{
    /// <summary>The caller named in errors: the client id, or the login token file.</summary>
    public string Name => Credential?.ClientId ?? $"the login token in {LoginFile}";

    /// <summary>
    /// The caller's tokens for <paramref name="audience"/> (null: the credential's own node, or whatever node the login token is for):
    /// client_credentials tokens with <paramref name="scope"/>, or the login token, refreshed as needed (its scopes are the account's).
    /// </summary>
    public IAccessTokenSource Tokens(HttpClient http, Uri identity, string scope, string? audience) => Credential is { } credential
        ? new TokenClient(http, CommonOptions.TokenEndpoint(identity), credential, scope, audience)
        : new Federation.LoginTokens(LoginFile!, identity, audience, http);
}
