using System.CommandLine;
using Mirps.Auth;
using Mirps.Notification.V1;

namespace MirpsExchange.Cli.Commands;

/// <summary>
/// <c>mirps webhooks add|list|remove|deliveries</c>: the signed webhooks of a node (protos/README.md "Webhooks", docs/webhooks.md),
/// managed with the node owner's approver credential: a State's on its node, the Secretariat's on the Secretariat's
/// (<c>--node-country secretariat</c>); and a State's approver's own at the Secretariat's, about that State only.
/// </summary>
internal static class WebhooksCommand
{
    private const string Exits = " Exit codes: 0 done; 1 request refused (the reason is printed); 2 the node could not be reached or failed.";
    private const string Scopes = $"{MirpsAuth.ReadScope} {MirpsAuth.ApproveScope}";

    public static Command Create() => new("webhooks", "Signed webhooks of a node: subscribe a receiver's URL to events, list subscriptions and their health, remove one, read its delivery log")
    {
        Add(), List(), Remove(), Deliveries(),
    };

    private static Command Add()
    {
        var reader = new NodeReader(scope: Scopes);
        var url = new Option<string>("--url") { Description = "The receiver: https://... (http only to loopback where the node allows it, in development)", Required = true };
        var events = new Option<string[]>("--event")
        {
            Description = "An event type, repeatable: approved, unapproved, changed-since-approval, embargo-lifted (a State's node); "
                + "data-received, accepted, rejected, due-soon, overdue too (the Secretariat's; a State's approver there names only these five, about its own figures)",
            HelpName = "TYPE",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var description = new Option<string>("--description") { Description = "For people (at most 200 characters)" };
        var command = new Command("add", "Subscribe a receiver; prints the subscription's id and its signing secret, which is shown this once." + Exits)
            { url, events, description };
        AddOptions(command, reader);
        command.SetAction((parse, cancellationToken) => reader.RunAsync(parse, async (_, channel) =>
        {
            var request = new CreateSubscriptionRequest { Url = parse.GetRequiredValue(url), Description = parse.GetValue(description) ?? "" };
            foreach (var name in parse.GetRequiredValue(events))
            {
                request.EventTypes.Add(Parse(name));
            }
            var response = await new NotificationService.NotificationServiceClient(channel).CreateSubscriptionAsync(request, cancellationToken: cancellationToken);
            var output = parse.InvocationConfiguration.Output;
            await WriteAsync(output, response.Subscription);
            await output.WriteLineAsync($"secret: {response.Secret}");
            await output.WriteLineAsync("Keep the secret now: it is not shown again. Receivers verify Mirps-Webhook-Signature with it (docs/webhooks.md).");
            return CliApp.Ok;
        }, FieldName, cancellationToken));
        return command;
    }

    private static Command List()
    {
        var reader = new NodeReader(scope: Scopes);
        var command = new Command("list", "The node's subscriptions: id, URL, events, health (HEALTHY or FAILING), pending events and the last error." + Exits);
        AddOptions(command, reader);
        command.SetAction((parse, cancellationToken) => reader.RunAsync(parse, async (_, channel) =>
        {
            var response = await new NotificationService.NotificationServiceClient(channel).ListSubscriptionsAsync(new ListSubscriptionsRequest(), cancellationToken: cancellationToken);
            foreach (var subscription in response.Subscriptions)
            {
                await WriteAsync(parse.InvocationConfiguration.Output, subscription);
            }
            return CliApp.Ok;
        }, FieldName, cancellationToken));
        return command;
    }

    private static Command Remove()
    {
        var reader = new NodeReader(scope: Scopes);
        var id = new Argument<string>("id") { Description = "The subscription's id (wh_...)" };
        var command = new Command("remove", "Remove a subscription and its undelivered events." + Exits) { id };
        AddOptions(command, reader);
        command.SetAction((parse, cancellationToken) => reader.RunAsync(parse, async (_, channel) =>
        {
            await new NotificationService.NotificationServiceClient(channel).DeleteSubscriptionAsync(new DeleteSubscriptionRequest { SubscriptionId = parse.GetRequiredValue(id) },
                cancellationToken: cancellationToken);
            await parse.InvocationConfiguration.Output.WriteLineAsync($"removed {parse.GetRequiredValue(id)}");
            return CliApp.Ok;
        }, FieldName, cancellationToken));
        return command;
    }

    private static Command Deliveries()
    {
        var reader = new NodeReader(scope: Scopes);
        var id = new Argument<string>("id") { Description = "The subscription's id (wh_...)" };
        var limit = new Option<int>("--limit") { Description = "Events listed at most (1 to 500; default 100)", DefaultValueFactory = _ => 100 };
        var command = new Command("deliveries", "A subscription's delivery log, newest event first: each event, delivered or not, and every attempt's status code or error." + Exits)
            { id, limit };
        AddOptions(command, reader);
        command.SetAction((parse, cancellationToken) => reader.RunAsync(parse, async (_, channel) =>
        {
            var response = await new NotificationService.NotificationServiceClient(channel).ListDeliveriesAsync(
                new ListDeliveriesRequest { SubscriptionId = parse.GetRequiredValue(id), PageSize = parse.GetValue(limit) }, cancellationToken: cancellationToken);
            var output = parse.InvocationConfiguration.Output;
            foreach (var delivery in response.Deliveries)
            {
                var e = delivery.Event;
                var what = string.Join(' ', new[] { e.Country, e.GroupId, e.IndicatorCode, e.Period }.Where(s => s.Length > 0));
                var state = delivery.Delivered ? "DELIVERED" : $"PENDING (next attempt {delivery.NextAttemptTime.ToDateTimeOffset():u})";
                await output.WriteLineAsync($"{e.EventId} {Name(e.Type)} {what} {state}");
                foreach (var attempt in delivery.Attempts)
                {
                    var result = attempt.StatusCode > 0 ? $"HTTP {attempt.StatusCode}" : NodeReader.OneLine(attempt.Error);
                    await output.WriteLineAsync($"  {attempt.AttemptTime.ToDateTimeOffset():u} {result} ({attempt.DurationMs} ms)");
                }
            }
            return CliApp.Ok;
        }, FieldName, cancellationToken));
        return command;
    }

    /// <summary>"changed-since-approval" for EVENT_TYPE_CHANGED_SINCE_APPROVAL; anything else is sent as an unknown type (the node names the known ones).</summary>
    private static EventType Parse(string name)
    {
        var wanted = name.Replace('-', '_').Replace("EVENT_TYPE_", "", StringComparison.OrdinalIgnoreCase);
        return Enum.GetValues<EventType>().Where(t => t != EventType.Unspecified).FirstOrDefault(t => string.Equals(Name(t).Replace('-', '_'), wanted, StringComparison.OrdinalIgnoreCase),
            (EventType)(-1));
    }

    private static string Name(EventType type) => string.Concat(type.ToString().Select((c, i) => char.IsUpper(c) && i > 0 ? $"-{char.ToLowerInvariant(c)}" : char.ToLowerInvariant(c).ToString()));

    private static async Task WriteAsync(TextWriter output, Subscription s)
    {
        var health = s.Health == SubscriptionHealth.Failing ? $"FAILING ({s.ConsecutiveFailures} failed attempts; last: {NodeReader.OneLine(s.LastError)})" : "HEALTHY";
        await output.WriteLineAsync($"{s.SubscriptionId} {s.Url} [{string.Join(", ", s.EventTypes.Select(Name))}] {health}, {s.PendingCount} pending"
            + (s.Description.Length > 0 ? $": {NodeReader.OneLine(s.Description)}" : ""));
    }

    private static void AddOptions(Command command, NodeReader reader)
    {
        foreach (var option in reader.Options)
        {
            command.Options.Add(option);
        }
    }

    private static string FieldName(string field) => field switch
    {
        "url" => "--url",
        _ when field.StartsWith("event_types", StringComparison.Ordinal) => "--event" + field["event_types".Length..],
        "description" => "--description",
        "page_size" => "--limit",
        _ => field,
    };
}
