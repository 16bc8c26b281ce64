using System.CommandLine;
using MirpsExchange.Node.ChangeLog;

namespace MirpsExchange.Cli.Commands;

/// <summary>
/// <c>mirps node rotate-log-key --key-file FILE</c>: on the node's machine, as the node's user, starts a rotation
/// of the State's log-signing key. The next key is made owner-only beside the current one (.next.pem), with its
/// public half (.next.pub.pem); the node, running or started later, hands over to it at its next commit with a
/// KEY_ROTATION head signed with the current key, so replicas accept the new key at once (README, "Rotating a
/// State's log-signing key").
/// </summary>
public static class NodeCommand
{
    public static Command Create()
    {
        var keyFile = new Option<FileInfo>("--key-file")
        {
            Description = "The node's log-signing key (Node:LogSigningKeyFile; by default log-signing-key-COUNTRY.pem in Node:DataDirectory)",
            Required = true,
        };
        var rotate = new Command("rotate-log-key", "Make the next log-signing key; the node hands over to it at its next commit (a KEY_ROTATION head signed with the current key)")
        {
            keyFile,
        };
        rotate.SetAction(async (parse, cancellationToken) =>
        {
            var file = parse.GetRequiredValue(keyFile).FullName;
            try
            {
                var (current, next, nextFile, publicFile) = LogSigner.PrepareRotation(file);
                var output = parse.InvocationConfiguration.Output;
                await output.WriteLineAsync($"Next log-signing key {next} is in {nextFile} (owner-only).");
                await output.WriteLineAsync($"The node hands over from key {current} to it at its next commit: a KEY_ROTATION head signed with {current}, which replicas accept at once.");
                await output.WriteLineAsync($"Register it at the identity server (before or after): `mirps credentials register-log-key --country COUNTRY --public-key {publicFile}`;");
                await output.WriteLineAsync($"retire {current} (`mirps credentials retire-log-key {current}`) only once the node has logged LogSigningKeyRotated.");
                return CliApp.Ok;
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
            {
                await parse.InvocationConfiguration.Error.WriteLineAsync($"error: {e.Message}");
                return CliApp.Refused;
            }
        });
        return new Command("node", "A State node's own files, on its machine") { rotate };
    }
}
