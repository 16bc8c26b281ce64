using System.CommandLine;
using Mirps.Approval.V1;
using Mirps.Auth;

namespace MirpsExchange.Cli.Commands;

/// <summary>
/// The reporting cycle (protos/README.md, "Approval"): <c>mirps approve</c> and <c>mirps unapprove</c> on a State's node with
/// its approver's credential, <c>mirps accept</c> and <c>mirps reject</c> on the Secretariat's node with the Secretariat's,
/// <c>mirps approvals</c> where each State x indicator group x period stands.
/// </summary>
internal static class ApprovalCommand
{
    private const string Exits = " Exit codes: 0 done; 1 request refused (the reason is printed); 2 the node could not be reached or failed.";
    private const string ApproveScopes = $"{MirpsAuth.ReadScope} {MirpsAuth.ApproveScope}";

    public static Command Approve()
    {
        var reader = new NodeReader(scope: ApproveScopes);
        var (groups, periods) = (Groups(), Periods());
        var reviewed = new Option<long?>("--reviewed-sequence")
        {
            Description = "The change of your State's log you reviewed the figures at (mirps approvals shows 'log to change N'): a cell changed after it is refused, nothing approved",
            HelpName = "N",
        };
        var command = new Command("approve", "Approve your State's figures of every indicator group x period named, in one call (a signed entry of its log each); "
            + "needs a credential issued with the approve permission." + Exits) { groups, periods, reviewed };
        Add(command, reader.Options);
        command.SetAction((parse, cancellationToken) => reader.RunAsync(parse, async (_, channel) =>
        {
            var request = new ApproveDataRequest { GroupIds = { parse.GetRequiredValue(groups) }, Periods = { parse.GetRequiredValue(periods) } };
            if (parse.GetValue(reviewed) is { } sequence)
            {
                request.ReviewedLogSequence = sequence;
            }
            var response = await new ApprovalService.ApprovalServiceClient(channel).ApproveDataAsync(request, cancellationToken: cancellationToken);
            await WriteAsync(parse.InvocationConfiguration.Output, response.Cells);
            return CliApp.Ok;
        }, FieldName, cancellationToken));
        return command;
    }

    public static Command Unapprove()
    {
        var reader = new NodeReader(scope: ApproveScopes);
        var (groups, periods, reason) = (Groups(), Periods(), Reason());
        var command = new Command("unapprove", "Withdraw your State's approval of every indicator group x period named, with a reason." + Exits) { groups, periods, reason };
        Add(command, reader.Options);
        command.SetAction((parse, cancellationToken) => reader.RunAsync(parse, async (_, channel) =>
        {
            var response = await new ApprovalService.ApprovalServiceClient(channel).UnapproveDataAsync(new UnapproveDataRequest
            {
                GroupIds = { parse.GetRequiredValue(groups) }, Periods = { parse.GetRequiredValue(periods) }, Reason = parse.GetRequiredValue(reason),
            }, cancellationToken: cancellationToken);
            await WriteAsync(parse.InvocationConfiguration.Output, response.Cells);
            return CliApp.Ok;
        }, FieldName, cancellationToken));
        return command;
    }

    public static Command Accept()
    {
        var reader = SecretariatReader();
        var (country, groups, periods) = (Country(), Groups(), Periods());
        var command = new Command("accept", "The Secretariat accepts a State's approved figures of every indicator group x period named." + Exits) { country, groups, periods };
        Add(command, reader.Options);
        command.SetAction((parse, cancellationToken) => reader.RunAsync(parse, async (_, channel) =>
        {
            var response = await new ApprovalService.ApprovalServiceClient(channel).AcceptDataAsync(new AcceptDataRequest
            {
                Country = parse.GetRequiredValue(country), GroupIds = { parse.GetRequiredValue(groups) }, Periods = { parse.GetRequiredValue(periods) },
            }, cancellationToken: cancellationToken);
            await WriteAsync(parse.InvocationConfiguration.Output, response.Cells);
            return CliApp.Ok;
        }, FieldName, cancellationToken));
        return command;
    }

    public static Command Reject()
    {
        var reader = SecretariatReader();
        var (country, groups, periods, reason) = (Country(), Groups(), Periods(), Reason());
        var command = new Command("reject", "The Secretariat rejects a State's approved figures of every indicator group x period named, with a reason." + Exits)
            { country, groups, periods, reason };
        Add(command, reader.Options);
        command.SetAction((parse, cancellationToken) => reader.RunAsync(parse, async (_, channel) =>
        {
            var response = await new ApprovalService.ApprovalServiceClient(channel).RejectDataAsync(new RejectDataRequest
            {
                Country = parse.GetRequiredValue(country), GroupIds = { parse.GetRequiredValue(groups) }, Periods = { parse.GetRequiredValue(periods) },
                Reason = parse.GetRequiredValue(reason),
            }, cancellationToken: cancellationToken);
            await WriteAsync(parse.InvocationConfiguration.Output, response.Cells);
            return CliApp.Ok;
        }, FieldName, cancellationToken));
        return command;
    }

    public static Command Status()
    {
        var reader = new NodeReader();
        var countries = new Option<string[]>("--country") { Description = "A State (ISO3), repeatable; default: the node's own State, or every State at the Secretariat", HelpName = "ISO3" };
        var groups = new Option<string[]>("--group") { Description = "An indicator group, repeatable (POPULATIONS, ASYLUM_PROCEDURES, ...); default: every group", HelpName = "GROUP" };
        var periods = new Option<string[]>("--period") { Description = "A period, repeatable; with --group, every cell named is listed, drafts included", HelpName = "PERIOD" };
        var command = new Command("approvals", "Where each State x indicator group x period stands: draft, approved, accepted, changed since approval (with the keys changed) or rejected." + Exits)
            { countries, groups, periods };
        Add(command, reader.Options);
        command.SetAction((parse, cancellationToken) => reader.RunAsync(parse, async (_, channel) =>
        {
            var response = await new ApprovalService.ApprovalServiceClient(channel).GetApprovalStatusAsync(new GetApprovalStatusRequest
            {
                Countries = { parse.GetValue(countries) ?? [] }, GroupIds = { parse.GetValue(groups) ?? [] }, Periods = { parse.GetValue(periods) ?? [] },
            }, cancellationToken: cancellationToken);
            await WriteAsync(parse.InvocationConfiguration.Output, response.Cells);
            return CliApp.Ok;
        }, FieldName, cancellationToken));
        return command;
    }

    private static NodeReader SecretariatReader() =>
        new(CommonOptions.AddressOption("--secretariat", "MIRPS_SECRETARIAT", "http://127.0.0.1:5200", "Address of the Secretariat's node"), secretariat: true, scope: ApproveScopes);

    private static Option<string[]> Groups() => new("--group")
    {
        Description = "An indicator group of the catalogue (POPULATIONS, ASYLUM_PROCEDURES, RETURNS_AND_SOLUTIONS, PROTECTION_AND_INCLUSION), repeatable",
        HelpName = "GROUP",
        Required = true,
        AllowMultipleArgumentsPerToken = true,
    };

    private static Option<string[]> Periods() => new("--period")
    {
        Description = "A period (2023, 2023-Q1, 2023-01), repeatable: every group x period named is one cell",
        HelpName = "PERIOD",
        Required = true,
        AllowMultipleArgumentsPerToken = true,
    };

    private static Option<string> Reason() => new("--reason") { Description = "Why (at most 1,000 characters)", Required = true };

    private static Option<string> Country() => new("--country") { Description = "The State (ISO3) whose figures", HelpName = "ISO3", Required = true };

    private static void Add(Command command, IEnumerable<Option> options)
    {
        foreach (var option in options)
        {
            command.Options.Add(option);
        }
    }

    /// <summary>A field violation's field as the option a person typed.</summary>
    private static string FieldName(string field) => field switch
    {
        _ when field.StartsWith("group_ids", StringComparison.Ordinal) => "--group" + field["group_ids".Length..],
        _ when field.StartsWith("periods", StringComparison.Ordinal) => "--period" + field["periods".Length..],
        _ when field.StartsWith("countries", StringComparison.Ordinal) => "--country" + field["countries".Length..],
        "country" => "--country",
        "reason" => "--reason",
        "reviewed_log_sequence" => "--reviewed-sequence",
        _ => field,
    };

    /// <summary>One line per cell: State, group, period, state, and what it stands on; the keys changed since approval below it.</summary>
    private static async Task WriteAsync(TextWriter output, IEnumerable<ApprovalCell> cells)
    {
        foreach (var cell in cells)
        {
            var state = cell.State.ToString() switch
            {
                "ChangedSinceApproval" => "CHANGED_SINCE_APPROVAL",
                var name => name.ToUpperInvariant(),
            };
            var detail = cell.EntrySequence == 0 ? "" : $" (entry {cell.EntrySequence}, log to change {cell.LogSequence}, by {cell.ApprovedBy} at {cell.ApproveTime.ToDateTimeOffset():u})";
            var accepted = cell.AcceptTime is null ? "" : $", {(cell.State == ApprovalState.Rejected ? "rejected" : "accepted")} by {cell.AcceptedBy} at {cell.AcceptTime.ToDateTimeOffset():u}";
            var reason = cell.Reason.Length > 0 ? $": {NodeReader.OneLine(cell.Reason)}" : "";
            await output.WriteLineAsync($"{cell.Country} {cell.GroupId} {cell.Period} {state}{detail}{accepted}{reason}");
            foreach (var key in cell.ChangedKeys)
            {
                await output.WriteLineAsync($"  changed: {MirpsExchange.Catalogue.ObservationKeys.Describe(key)}");
            }
        }
    }
}
