using System.CommandLine;
using System.Text.Json;
using Google.Rpc;
using Grpc.Core;
using Grpc.Net.Client;
using Mirps.Auth;
using MirpsExchange.Cli.Federation;

namespace MirpsExchange.Cli.Commands;

/// <summary>
/// What the commands that read from a node share (<c>query</c>, <c>sync status</c>, <c>regional</c> on the
/// Secretariat's node): the --node (or --secretariat), --identity, --credential and --ca options of <see cref="CommonOptions"/>, a read-only token, an authenticated channel, and
/// every failure turned into a short error on the error output and an exit code, so each command only
/// writes its call and its output.
/// </summary>
internal sealed class NodeReader(Option<Uri>? node = null, bool secretariat = false, string scope = MirpsAuth.ReadScope)
{
    /// <summary>How long the identity server and a unary node call may take before the command gives up.</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    public Option<Uri> Node { get; } = node ?? CommonOptions.Node();
    public Option<Uri> Identity { get; } = CommonOptions.Identity();
    public Option<FileInfo?> Credential { get; } = CommonOptions.Credential();
    public Option<FileInfo?> TokenFile { get; } = CommonOptions.TokenFile();
    public Option<FileInfo?> Ca { get; } = CommonOptions.Ca();
    public Option<FileInfo?> ClientCertificate { get; } = CommonOptions.ClientCertificate();
    public Option<FileInfo?> ClientKey { get; } = CommonOptions.ClientKey();

    /// <summary>Whose node --node is (its token is for that node only); the Secretariat's commands need none.</summary>
    public Option<string?>? NodeCountry { get; } = secretariat ? null : CommonOptions.NodeCountry();

    public IEnumerable<Option> Options => NodeCountry is null
        ? [Node, Identity, Credential, TokenFile, Ca, ClientCertificate, ClientKey]
        : [Node, NodeCountry, Identity, Credential, TokenFile, Ca, ClientCertificate, ClientKey];

    /// <summary>
    /// Finds the caller (<see cref="CommonOptions.ResolveCaller"/>: a credential or the login token), gets a <c>mirps.read</c> token, and runs <paramref name="call"/> on a channel to the
    /// node. A refused request (INVALID_ARGUMENT, FAILED_PRECONDITION) prints each field violation, its field named through
    /// <paramref name="fieldName"/> (the option a person typed rather than the protobuf path), and returns
    /// <see cref="CliApp.Refused"/>; anything else that fails returns <see cref="CliApp.Failed"/>.
    /// </summary>
    public Task<int> RunAsync(ParseResult parse, Func<Uri, GrpcChannel, Task<int>> call, Func<string, string> fieldName, CancellationToken cancellationToken) =>
        RunAsync(parse, (node, channel, _) => call(node, channel), fieldName, cancellationToken);

    /// <summary>As above; <paramref name="call"/> also gets the access token the node is called with (whose reader it names).</summary>
    public async Task<int> RunAsync(ParseResult parse, Func<Uri, GrpcChannel, string, Task<int>> call, Func<string, string> fieldName, CancellationToken cancellationToken)
    {
        var error = parse.InvocationConfiguration.Error;
        var node = parse.GetRequiredValue(Node);
        var identity = parse.GetRequiredValue(Identity);
        // A plain http:// address off this machine was refused when the options were parsed (CommonOptions.AddressOption).

        Caller caller;
        ClientTls tls;
        try
        {
            caller = CommonOptions.ResolveCaller(parse, Credential, TokenFile);
            tls = CommonOptions.LoadTls(parse, Ca, ClientCertificate, ClientKey);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"error: {OneLine(e.Message)}");
            return CliApp.Failed;
        }

        using var _ = tls;
        using var http = CommonOptions.HttpClient(tls);
        http.Timeout = CallTimeout;
        // A token for the one node called: the Secretariat's, the one --node-country names, or else the credential's own.
        var audience = secretariat ? MirpsAuth.NodeAudience(MirpsAuth.Secretariat)
            : parse.GetValue(NodeCountry!) is { } country ? MirpsAuth.NodeAudience(country) : null;
        using var tokens = caller.Tokens(http, identity, scope, audience);
        string token;
        try
        {
            token = await tokens.GetTokenAsync(cancellationToken);
        }
        catch (LoginTokenException e)
        {
            await error.WriteLineAsync($"error: {OneLine(e.Message)}");
            return CliApp.Failed;
        }
        catch (Exception e) when (e is TokenRequestException or HttpRequestException or JsonException
            || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            var reason = e is OperationCanceledException ? $"no answer within {CallTimeout.TotalSeconds:0} seconds" : e.Message;
            await error.WriteLineAsync($"error: no token from the identity server at {identity} for {caller.Name}: {OneLine(reason)}");
            return CliApp.Failed;
        }

        using var channel = CommonOptions.AuthenticatedChannel(node, tokens, tls);
        try
        {
            return await call(node, channel, token);
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.InvalidArgument or StatusCode.FailedPrecondition)
        {
            var violations = e.GetRpcStatus()?.GetDetail<BadRequest>()?.FieldViolations ?? [];
            await error.WriteLineAsync($"error: the node at {node} refused the request ({e.StatusCode}){(violations.Count > 0 ? ":" : ": " + OneLine(e.Status.Detail))}");
            foreach (var violation in violations)
            {
                await error.WriteLineAsync($"  {fieldName(violation.Field)}: {OneLine(violation.Description)}");
            }
            return CliApp.Refused;
        }
        catch (RpcException e)
        {
            await error.WriteLineAsync($"error: {Describe(node, e)}");
            return CliApp.Failed;
        }
    }

    /// <summary>"the node at X could not be reached (Unavailable): ...", with the ErrorInfo reason of a refusal (MISSING_SCOPE, ROLE_NOT_ALLOWED).</summary>
    public static string Describe(Uri node, RpcException e)
    {
        var what = e.StatusCode switch
        {
            StatusCode.Unavailable => "could not be reached or is unavailable",
            StatusCode.Unauthenticated => "did not accept the token (is --identity the issuer the node trusts?)",
            StatusCode.PermissionDenied => "does not let this credential do that",
            StatusCode.DeadlineExceeded => $"did not answer within {CallTimeout.TotalSeconds:0} seconds",
            _ => "failed the request",
        };
        var reason = e.GetRpcStatus()?.GetDetail<ErrorInfo>()?.Reason is { Length: > 0 } r ? $", {r}" : "";
        return $"the node at {node} {what} ({e.StatusCode}{reason}): {OneLine(e.Status.Detail)}";
    }

    public static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}
