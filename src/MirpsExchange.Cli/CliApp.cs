using System.CommandLine;
using MirpsExchange.Cli.Commands;

namespace MirpsExchange.Cli;

public static class CliApp
{
    /// <summary>
    /// Exit codes: 0 success; 1 the input was refused (by the command, before anything is sent, or by the node,
    /// in which case the batches before the refused one were written, as the error says); 2 the node could not
    /// be reached or failed.
    /// </summary>
    public const int Ok = 0, Refused = 1, Failed = 2;

    public static RootCommand BuildRootCommand() => new("mirps: the MirpsExchange command line (submit and query data, check sync, run the local federation, administer credentials)")
    {
        SubmitCommand.Create(),
        TemplateCommand.Create(),
        QueryCommand.Create(),
        SyncCommand.Create(),
        DevnetCommand.Create(),
        CredentialsCommand.Create(),
        AccountsCommand.Create(),
        LoginCommand.Create(),
        CertsCommand.Create(),
        RegionalCommand.Create(),
        NodeCommand.Create(),
        BackupCommand.Backup(),
        BackupCommand.Restore(),
        ApprovalCommand.Approve(),
        ApprovalCommand.Unapprove(),
        ApprovalCommand.Accept(),
        ApprovalCommand.Reject(),
        ApprovalCommand.Status(),
        WebhooksCommand.Create(),
    };
}
