using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;
using Mirps.Auth;
using MirpsExchange.Cli.Federation;
using Mirps.Identity.V1;

namespace MirpsExchange.Cli.Commands;

/// <summary>
/// <c>mirps credentials issue | list | rotate | revoke | roll-key | audit | register-log-key | log-keys | retire-log-key</c>: the identity server's CredentialService
/// (its gRPC admin API) with a token for an admin credential, obtained from its OAuth2 token endpoint.
/// </summary>
public static class CredentialsCommand
{
    /// <summary>The command's help text, exit codes included.</summary>
    public const string Description =
        "Administer the OAuth2 client credentials of the identity server (needs an admin credential). Exit codes: 0 done. "
        + "1 request refused (by the command before anything is sent, or by the server as invalid). "
        + "2 no admin token (missing credential file, wrong secret), server unreachable, or any other server error.";

    private const string TimeFormat = "yyyy-MM-dd HH:mm:ss'Z'";
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    public static Command Create()
    {
        var (connection, options) = AdminConnection();
        var command = new Command("credentials", Description)
        {
            Issue(connection), List(connection), Rotate(connection), Revoke(connection), RollKey(connection), Audit(connection),
            RegisterLogKey(connection), LogKeys(connection), RetireLogKey(connection),
        };
        foreach (var option in options)
        {
            command.Options.Add(option);
        }
        return command;
    }

    /// <summary>The admin API's connection and its options (identity, admin API, admin credential, TLS), for every command that administers the identity server.</summary>
    internal static (Connection Connection, System.CommandLine.Option[] Options) AdminConnection()
    {
        var identity = CommonOptions.Identity();
        var adminApi = AdminApi();
        var credential = CommonOptions.Credential();
        var tokenFile = CommonOptions.TokenFile();
        credential.Description = "The ADMIN credential: " + credential.Description;
        var ca = CommonOptions.Ca();
        var clientCertificate = CommonOptions.ClientCertificate();
        var clientKey = CommonOptions.ClientKey();
        identity.Recursive = adminApi.Recursive = credential.Recursive = tokenFile.Recursive = ca.Recursive = clientCertificate.Recursive = clientKey.Recursive = true;
        return (new Connection(identity, adminApi, credential, tokenFile, ca, clientCertificate, clientKey), [identity, adminApi, credential, tokenFile, ca, clientCertificate, clientKey]);
    }

    /// <summary>--admin-api: the identity server's gRPC address (a port of its own, next to the OAuth2 one).</summary>
    private static Option<Uri> AdminApi() =>
        CommonOptions.AddressOption("--admin-api", "MIRPS_IDENTITY_ADMIN", "http://127.0.0.1:5001", "The identity server's gRPC admin API address");

    private static Option<FileInfo?> Out(string what) => new("--out")
    {
        Description = $"Write {{\"client_id\": ..., \"client_secret\": ...}} with {what} to this new file, readable only by you (an existing file is never overwritten); "
            + "without it the secret is printed",
        HelpName = "FILE",
    };

    private static Command Issue(Connection connection)
    {
        var country = new Option<string>("--country") { Description = "ISO 3166-1 alpha-3 code of the State (state role only)", HelpName = "ISO3" };
        var role = new Option<string>("--role") { Description = "What the credential's tokens may do", Required = true };
        role.AcceptOnlyFromAmong(MirpsAuth.StateRole, MirpsAuth.SecretariatRole, MirpsAuth.AdminRole);
        var description = new Option<string>("--description") { Description = "Free text for people: which system uses it" };
        var publicKey = new Option<FileInfo?>("--public-key")
        {
            Description = "JSON Web Key file with the client's PUBLIC key (RSA or EC, with \"kid\"): the credential then authenticates with "
                + "private_key_jwt and has no secret. Without it, a client secret is issued",
            HelpName = "FILE",
        };
        var certificateSubject = new Option<string?>("--certificate-subject")
        {
            Description = "Subject of the client certificates that authenticate the credential (tls_client_auth, RFC 8705; the identity server must serve TLS): "
                + "a SAN URI such as urn:mirps:PAN, or the subject distinguished name (\"CN=pan-client, O=...\"), or dns:NAME, ip:ADDRESS. "
                + "The credential then has no secret",
            HelpName = "SUBJECT",
        };
        var output = Out("the new secret");
        var approve = new Option<bool>("--approve")
        {
            Description = "The credential may also approve its State's figures (state role: `mirps approve`) or accept and reject them (secretariat role: `mirps accept`); its tokens carry mirps.approve when asked",
        };
        var command = new Command("issue", "Issue a credential for a State, the Secretariat or an admin; its secret is shown once")
        {
            country, role, description, publicKey, certificateSubject, output, approve,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var error = parse.InvocationConfiguration.Error;
            var request = new IssueCredentialRequest
            {
                Country = (parse.GetValue(country) ?? "").Trim().ToUpperInvariant(),
                Role = parse.GetRequiredValue(role) switch
                {
                    MirpsAuth.StateRole => Role.State,
                    MirpsAuth.SecretariatRole => Role.Secretariat,
                    _ => Role.Admin,
                },
                AuthenticationMethod = AuthenticationMethod.ClientSecret,
                Description = parse.GetValue(description) ?? "",
                Approve = parse.GetValue(approve),
            };
            var outFile = parse.GetValue(output);
            if (parse.GetValue(certificateSubject) is { } subject)
            {
                if (outFile is not null || parse.GetValue(publicKey) is not null)
                {
                    await error.WriteLineAsync("error: a --certificate-subject credential has no secret and no public key; leave out --out and --public-key");
                    return CliApp.Refused;
                }
                request.AuthenticationMethod = AuthenticationMethod.TlsClientAuth;
                request.CertificateSubject = subject;
            }
            else if (parse.GetValue(publicKey) is { } keyFile)
            {
                if (outFile is not null)
                {
                    await error.WriteLineAsync("error: --out writes a client secret, and a --public-key credential has none; leave out --out");
                    return CliApp.Refused;
                }
                if (!keyFile.Exists)
                {
                    await error.WriteLineAsync($"error: the public key file {keyFile.FullName} does not exist");
                    return CliApp.Refused;
                }
                request.AuthenticationMethod = AuthenticationMethod.PrivateKeyJwt;
                request.PublicKeyJwk = await File.ReadAllTextAsync(keyFile.FullName, cancellationToken);
            }
            return await connection.RunAsync(parse, outFile, async (client, console) =>
            {
                var response = await client.IssueCredentialAsync(request, deadline: Deadline(), cancellationToken: cancellationToken);
                var issued = response.Credential;
                await console.WriteLineAsync($"Issued {issued.ClientId}: {Describe(issued)}.");
                if (request.AuthenticationMethod == AuthenticationMethod.PrivateKeyJwt)
                {
                    await console.WriteLineAsync($"It authenticates with private_key_jwt, signing with the key '{issued.PublicKeyId}'; there is no secret.");
                    return null;
                }
                if (request.AuthenticationMethod == AuthenticationMethod.TlsClientAuth)
                {
                    await console.WriteLineAsync($"client_id:     {issued.ClientId}");
                    await console.WriteLineAsync($"It authenticates with tls_client_auth: a client certificate of the federation CA with the subject '{request.CertificateSubject}', "
                        + "presented over TLS; there is no secret. Its credential file holds the client id alone: {\"client_id\": \"" + issued.ClientId + "\"}");
                    return null;
                }
                return new ClientCredential(issued.ClientId, response.ClientSecret);
            }, cancellationToken);
        });
        return command;
    }

    private static Command List(Connection connection)
    {
        var includeRevoked = new Option<bool>("--include-revoked") { Description = "List revoked credentials too" };
        var command = new Command("list", "List the credentials (never their secrets)") { includeRevoked };
        command.SetAction((parse, cancellationToken) => connection.RunAsync(parse, null, async (client, console) =>
        {
            var rows = new List<string[]>();
            var request = new ListCredentialsRequest { PageSize = 100, IncludeRevoked = parse.GetValue(includeRevoked) };
            do
            {
                var page = await client.ListCredentialsAsync(request, deadline: Deadline(), cancellationToken: cancellationToken);
                rows.AddRange(page.Credentials.Select(c => new[]
                {
                    c.ClientId, RoleName(c.Role), c.Country.Length > 0 ? c.Country : "-", MethodName(c.AuthenticationMethod),
                    Format(c.CreateTime), c.RevokeTime is null ? "-" : Format(c.RevokeTime), c.Description,
                }));
                request.PageToken = page.NextPageToken;
            }
            while (request.PageToken.Length > 0);
            await WriteTable(console, ["CLIENT ID", "ROLE", "COUNTRY", "METHOD", "CREATED", "REVOKED", "DESCRIPTION"], rows);
            await console.WriteLineAsync($"{rows.Count} credential{(rows.Count == 1 ? "" : "s")}");
            return null;
        }, cancellationToken));
        return command;
    }

    private static Command Rotate(Connection connection)
    {
        var clientId = new Argument<string>("client-id") { Description = "The credential whose secret to replace" };
        var grace = new Option<TimeSpan>("--grace")
        {
            Description = "How long the previous secret keeps working, as [d.]hh:mm:ss (at most 7 days; default 00:00:00, it stops at once)",
            HelpName = "DURATION",
            DefaultValueFactory = _ => TimeSpan.Zero,
            CustomParser = result =>
            {
                var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
                if (text.Contains(':') && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var value) && value >= TimeSpan.Zero)
                {
                    return value;
                }
                result.AddError($"--grace must be a duration such as 01:00:00 (one hour) or 1.00:00:00 (one day), not '{text}'");
                return TimeSpan.Zero;
            },
        };
        var output = Out("the new secret");
        var command = new Command("rotate", "Replace a credential's secret; the old one stops working at once or after --grace") { clientId, grace, output };
        command.SetAction((parse, cancellationToken) => connection.RunAsync(parse, parse.GetValue(output), async (client, console) =>
        {
            var request = new RotateSecretRequest { ClientId = parse.GetRequiredValue(clientId), GracePeriod = Duration.FromTimeSpan(parse.GetValue(grace)) };
            var response = await client.RotateSecretAsync(request, deadline: Deadline(), cancellationToken: cancellationToken);
            var rotated = response.Credential;
            await console.WriteLineAsync(rotated.SecretRotateTime is not null && response.PreviousSecretExpireTime is not null
                && response.PreviousSecretExpireTime.ToDateTimeOffset() > rotated.SecretRotateTime.ToDateTimeOffset()
                    ? $"Rotated the secret of {rotated.ClientId}; the previous secret keeps working until {Format(response.PreviousSecretExpireTime)}."
                    : $"Rotated the secret of {rotated.ClientId}; the previous secret stopped working at {Format(response.PreviousSecretExpireTime)}.");
            return new ClientCredential(rotated.ClientId, response.ClientSecret);
        }, cancellationToken));
        return command;
    }

    private static Command Revoke(Connection connection)
    {
        var clientId = new Argument<string>("client-id") { Description = "The credential to revoke" };
        var reason = new Option<string>("--reason") { Description = "Why, for the audit log", HelpName = "TEXT" };
        var command = new Command("revoke", "Revoke a credential: no token is issued for it from now on, and nodes refuse the tokens it holds within a minute") { clientId, reason };
        command.SetAction((parse, cancellationToken) => connection.RunAsync(parse, null, async (client, console) =>
        {
            var request = new RevokeCredentialRequest { ClientId = parse.GetRequiredValue(clientId), Reason = parse.GetValue(reason) ?? "" };
            var response = await client.RevokeCredentialAsync(request, deadline: Deadline(), cancellationToken: cancellationToken);
            await console.WriteLineAsync($"Revoked {response.Credential.ClientId} at {Format(response.Credential.RevokeTime)}; no token is issued for it from then on.");
            return null;
        }, cancellationToken));
        return command;
    }

    private static Command RollKey(Connection connection)
    {
        var reason = new Option<string>("--reason") { Description = "Why, for the audit log", HelpName = "TEXT" };
        var command = new Command("roll-key",
            "Mark the identity server's current token-signing key compromised: a new key signs from now on, and nodes refuse every token "
            + "the old key signed within a minute (clients then need new tokens)") { reason };
        command.SetAction((parse, cancellationToken) => connection.RunAsync(parse, null, async (client, console) =>
        {
            var response = await client.RollSigningKeyAsync(new RollSigningKeyRequest { Reason = parse.GetValue(reason) ?? "" },
                deadline: Deadline(), cancellationToken: cancellationToken);
            await console.WriteLineAsync($"Marked signing key {response.CompromisedKeyId} compromised at {Format(response.RollTime)}; {response.SigningKeyId} signs from then on.");
            return null;
        }, cancellationToken));
        return command;
    }

    private static Command Audit(Connection connection)
    {
        var limit = new Option<int>("--limit") { Description = "How many events to print, newest first", DefaultValueFactory = _ => 100, HelpName = "N" };
        limit.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1)
            {
                result.AddError("--limit must be at least 1");
            }
        });
        var command = new Command("audit", "Print the audit log of credential changes, newest first") { limit };
        command.SetAction((parse, cancellationToken) => connection.RunAsync(parse, null, async (client, console) =>
        {
            var wanted = parse.GetValue(limit);
            var rows = new List<string[]>();
            var request = new ListAuditEventsRequest();
            do
            {
                request.PageSize = Math.Min(wanted - rows.Count, 500);
                var page = await client.ListAuditEventsAsync(request, deadline: Deadline(), cancellationToken: cancellationToken);
                rows.AddRange(page.Events.Take(wanted - rows.Count).Select(e => new[] { Format(e.Time), e.Actor, e.Action, e.ClientId, e.Detail }));
                request.PageToken = page.NextPageToken;
            }
            while (request.PageToken.Length > 0 && rows.Count < wanted);
            await WriteTable(console, ["TIME", "ACTOR", "ACTION", "CLIENT ID", "DETAIL"], rows);
            return null;
        }, cancellationToken));
        return command;
    }

    private static Command RegisterLogKey(Connection connection)
    {
        var country = new Option<string>("--country") { Description = "ISO 3166-1 alpha-3 code of the State whose change log the key signs, or secretariat for the Secretariat's decision log", HelpName = "ISO3", Required = true };
        var publicKey = new Option<FileInfo>("--public-key")
        {
            Description = "PEM file with the node's log-signing PUBLIC key (\"-----BEGIN PUBLIC KEY-----\", ECDSA P-256)",
            HelpName = "FILE",
            Required = true,
        };
        var command = new Command("register-log-key",
            "Register the public key a State's node signs its change log with; every node learns of it from the revocation list. "
            + "Registering the same key again changes nothing") { country, publicKey };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var file = parse.GetRequiredValue(publicKey);
            byte[] spki;
            try
            {
                spki = ReadPublicKeyPem(await File.ReadAllTextAsync(file.FullName, cancellationToken));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"error: cannot read the public key {file.FullName}: {OneLine(e.Message)}");
                return CliApp.Refused;
            }
            return await connection.RunAsync(parse, null, async (client, console) =>
            {
                var request = new RegisterLogKeyRequest
                {
                    Country = parse.GetRequiredValue(country).Trim().ToUpperInvariant(),
                    PublicKey = Google.Protobuf.ByteString.CopyFrom(spki),
                };
                var response = await client.RegisterLogKeyAsync(request, deadline: Deadline(), cancellationToken: cancellationToken);
                await console.WriteLineAsync($"Registered log key {response.KeyId} of {request.Country} at {Format(response.RegisterTime)}; every node learns of it with its next revocation list.");
                return null;
            }, cancellationToken);
        });
        return command;
    }

    /// <summary>The DER bytes of the one PEM "PUBLIC KEY" block in <paramref name="text"/>, sent as they are (the server checks the key).</summary>
    internal static byte[] ReadPublicKeyPem(string text)
    {
        if (!System.Security.Cryptography.PemEncoding.TryFind(text, out var fields) || text[fields.Label] is not "PUBLIC KEY")
        {
            throw new InvalidDataException("it holds no PEM \"PUBLIC KEY\" block (a private key is never registered: export the public key)");
        }
        return Convert.FromBase64String(text[fields.Base64Data].ToString());
    }

    private static Command LogKeys(Connection connection)
    {
        var command = new Command("log-keys", "List the States' log-signing keys, retired ones too");
        command.SetAction((parse, cancellationToken) => connection.RunAsync(parse, null, async (client, console) =>
        {
            var keys = new List<LogKey>();
            var request = new ListLogKeysRequest { PageSize = 500 };
            do
            {
                var page = await client.ListLogKeysAsync(request, deadline: Deadline(), cancellationToken: cancellationToken);
                keys.AddRange(page.LogKeys);
                request.PageToken = page.NextPageToken;
            }
            while (request.PageToken.Length > 0);
            var rows = keys.OrderBy(k => k.Country, StringComparer.Ordinal).ThenBy(k => k.RegisterTime)
                .Select(k => new[] { k.Country, k.KeyId, Format(k.RegisterTime), Format(k.RetireTime) }).ToList();
            await WriteTable(console, ["COUNTRY", "KEY ID", "REGISTERED", "RETIRED"], rows);
            await console.WriteLineAsync($"{rows.Count} log key{(rows.Count == 1 ? "" : "s")}");
            return null;
        }, cancellationToken));
        return command;
    }

    private static Command RetireLogKey(Connection connection)
    {
        var keyId = new Argument<string>("key-id") { Description = "The key id of the log key to retire" };
        var reason = new Option<string>("--reason") { Description = "Why, for the audit log", HelpName = "TEXT" };
        var country = new Option<string>("--country")
        {
            Description = "For a key never registered (one a rotation handed over to): the State (ISO3) whose log it may sign; it is recorded retired with no public key",
            HelpName = "ISO3",
        };
        var command = new Command("retire-log-key",
            "Retire a State's log-signing key: the log heads it signed before stay verifiable, replicas refuse those it signs later") { keyId, reason, country };
        command.SetAction((parse, cancellationToken) => connection.RunAsync(parse, null, async (client, console) =>
        {
            var request = new RetireLogKeyRequest
            {
                KeyId = parse.GetRequiredValue(keyId),
                Reason = parse.GetValue(reason) ?? "",
                Country = (parse.GetValue(country) ?? "").Trim().ToUpperInvariant(),
            };
            var key = (await client.RetireLogKeyAsync(request, deadline: Deadline(), cancellationToken: cancellationToken)).LogKey;
            await console.WriteLineAsync($"Log key {key.KeyId} of {key.Country} is retired since {Format(key.RetireTime)}.");
            return null;
        }, cancellationToken));
        return command;
    }

    /// <summary>
    /// The options every subcommand shares and the steps around each call: load the admin credential, get an
    /// admin token, call the admin API, write the secret the call returned (if any) to --out or the output, and
    /// turn each failure into a one-line error and an exit code.
    /// </summary>
    internal sealed class Connection(Option<Uri> identityOption, Option<Uri> adminApiOption, Option<FileInfo?> credentialOption, Option<FileInfo?> tokenFileOption, Option<FileInfo?> caOption,
        Option<FileInfo?> certificateOption, Option<FileInfo?> keyOption)
    {
        /// <summary><paramref name="call"/> returns the secret to hand over, or null when there is none.</summary>
        public Task<int> RunAsync(ParseResult parse, FileInfo? outFile,
            Func<CredentialService.CredentialServiceClient, TextWriter, Task<ClientCredential?>> call, CancellationToken cancellationToken) =>
            RunAsync(parse, outFile, channel => new CredentialService.CredentialServiceClient(channel), call, cancellationToken);

        /// <summary>The same with another service of the admin API, made by <paramref name="makeClient"/> on the authenticated channel.</summary>
        public async Task<int> RunAsync<TClient>(ParseResult parse, FileInfo? outFile, Func<Grpc.Net.Client.GrpcChannel, TClient> makeClient,
            Func<TClient, TextWriter, Task<ClientCredential?>> call, CancellationToken cancellationToken)
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var identity = parse.GetRequiredValue(identityOption);
            var adminApi = parse.GetRequiredValue(adminApiOption);
            // A plain http:// address off this machine was refused when the options were parsed (CommonOptions.AddressOption).

            Caller admin;
            ClientTls tls;
            try
            {
                admin = CommonOptions.ResolveCaller(parse, credentialOption, tokenFileOption);
                tls = CommonOptions.LoadTls(parse, caOption, certificateOption, keyOption);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                await error.WriteLineAsync($"error: {OneLine(e.Message)}");
                return CliApp.Failed;
            }

            // The file is reserved (created empty, owner-only) before the server is asked, so an existing file is
            // never overwritten and an unwritable place is found out before a secret exists that could be lost.
            if (outFile is not null && !await ReserveAsync(outFile, error))
            {
                return CliApp.Refused;
            }
            var written = false;
            using var _ = tls;
            try
            {
                using var http = CommonOptions.HttpClient(tls);
                http.Timeout = CallTimeout;
                // An admin's login token is for the admin API (its sign-in names no node).
                using var tokens = admin.Tokens(http, identity, MirpsAuth.AdminScope, audience: null);
                try
                {
                    await tokens.GetTokenAsync(cancellationToken);
                }
                catch (LoginTokenException e)
                {
                    await error.WriteLineAsync($"error: {OneLine(e.Message)}");
                    return CliApp.Failed;
                }
                catch (Exception e) when (e is TokenRequestException or HttpRequestException or JsonException or NotSupportedException
                    || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
                {
                    var reason = e is OperationCanceledException ? $"no answer within {CallTimeout.TotalSeconds:0} seconds" : e.Message;
                    await error.WriteLineAsync($"error: no admin token from the identity server at {identity} for {admin.Name}: {OneLine(reason)}");
                    return CliApp.Failed;
                }

                using var channel = CommonOptions.AuthenticatedChannel(adminApi, tokens, tls);
                var client = makeClient(channel);
                ClientCredential? secret;
                try
                {
                    secret = await call(client, output);
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
                {
                    var violations = e.GetRpcStatus()?.GetDetail<BadRequest>()?.FieldViolations ?? [];
                    await error.WriteLineAsync($"error: the identity server refused the request (InvalidArgument){(violations.Count > 0 ? ":" : ": " + OneLine(e.Status.Detail))}");
                    foreach (var violation in violations)
                    {
                        await error.WriteLineAsync($"  {violation.Field}: {OneLine(violation.Description)}");
                    }
                    return CliApp.Refused;
                }
                catch (RpcException e)
                {
                    var what = e.StatusCode == StatusCode.Unavailable ? "could not be reached or is unavailable" : "refused or failed the request";
                    await error.WriteLineAsync($"error: the identity server's admin API at {adminApi} {what} ({e.StatusCode}): {OneLine(e.Status.Detail)}");
                    return CliApp.Failed;
                }

                if (secret is not null)
                {
                    if (outFile is null)
                    {
                        await output.WriteLineAsync($"client_id:     {secret.ClientId}");
                        await output.WriteLineAsync($"client_secret: {secret.ClientSecret}");
                        await output.WriteLineAsync("The secret is shown this once (the identity server keeps only a hash): store it now.");
                    }
                    else
                    {
                        try
                        {
                            MirpsExchange.ServiceDefaults.OwnerOnlyFile.WriteAllText(outFile.FullName, JsonSerializer.Serialize(secret));
                            written = true;
                        }
                        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                        {
                            await error.WriteLineAsync($"error: could not write {outFile.FullName} ({OneLine(e.Message)}); the secret of {secret.ClientId} is lost: "
                                + $"replace it with `mirps credentials rotate {secret.ClientId} --out FILE`");
                            return CliApp.Failed;
                        }
                        await output.WriteLineAsync($"Wrote the client id and secret of {secret.ClientId} to {outFile.FullName} (readable only by you); the secret is not shown again.");
                    }
                }
                return CliApp.Ok;
            }
            finally
            {
                if (outFile is not null && !written)
                {
                    ReleaseReservation(outFile);
                }
            }
        }

        private static async Task<bool> ReserveAsync(FileInfo file, TextWriter error)
        {
            try
            {
                var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows())
                {
                    options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
                }
                using (new FileStream(file.FullName, options))
                {
                }
                return true;
            }
            catch (IOException) when (File.Exists(file.FullName) || Directory.Exists(file.FullName))
            {
                await error.WriteLineAsync($"error: {file.FullName} already exists; it is never overwritten (give --out a new file name)");
                return false;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                await error.WriteLineAsync($"error: cannot create {file.FullName}: {OneLine(e.Message)}");
                return false;
            }
        }

        /// <summary>Deletes the empty file <see cref="ReserveAsync"/> made, and nothing else.</summary>
        private static void ReleaseReservation(FileInfo file)
        {
            try
            {
                file.Refresh();
                if (file.Exists && file.Length == 0)
                {
                    file.Delete();
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Left behind empty: harmless, and the error that led here matters more.
            }
        }
    }

    internal static DateTime Deadline() => DateTime.UtcNow.Add(CallTimeout);

    private static string Describe(Credential c) =>
        $"role {RoleName(c.Role)}{(c.Country.Length > 0 ? ", country " + c.Country : "")}, {MethodName(c.AuthenticationMethod)}, scopes {string.Join(" ", c.Scopes)}";

    private static string RoleName(Role role) => role switch
    {
        Role.State => MirpsAuth.StateRole,
        Role.Secretariat => MirpsAuth.SecretariatRole,
        Role.Admin => MirpsAuth.AdminRole,
        _ => "?",
    };

    private static string MethodName(AuthenticationMethod method) => method switch
    {
        AuthenticationMethod.ClientSecret => "client_secret",
        AuthenticationMethod.PrivateKeyJwt => "private_key_jwt",
        AuthenticationMethod.TlsClientAuth => "tls_client_auth",
        _ => "?",
    };

    internal static string Format(Timestamp? time) =>
        time is null ? "-" : time.ToDateTimeOffset().ToString(TimeFormat, CultureInfo.InvariantCulture);

    internal static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();

    /// <summary>Plain text in aligned columns (the last one unpadded), easy to read and to grep.</summary>
    internal static async Task WriteTable(TextWriter output, string[] header, List<string[]> rows)
    {
        var widths = header.Select((h, i) => rows.Select(r => OneLine(r[i]).Length).Append(h.Length).Max()).ToArray();
        foreach (var row in rows.Prepend(header))
        {
            var line = new StringBuilder();
            for (var i = 0; i < row.Length; i++)
            {
                var cell = OneLine(row[i]);
                line.Append(i < row.Length - 1 ? cell.PadRight(widths[i] + 2) : cell);
            }
            await output.WriteLineAsync(line.ToString().TrimEnd());
        }
    }
}
