using Google.Protobuf.WellKnownTypes;
using Google.Rpc;
using Grpc.Core;

namespace MirpsExchange.ServiceDefaults;

/// <summary>
/// gRPC errors as google.rpc.Status with details, so that clients in any language read the row,
/// field and reason of a refusal (<c>GetRpcStatus()?.GetDetail&lt;BadRequest&gt;()</c> in .NET).
/// </summary>
public static class RpcErrors
{
    public const string Domain = "mirps.exchange";

    /// <summary>INVALID_ARGUMENT with one BadRequest field violation per problem.</summary>
    public static RpcException InvalidArgument(string message, IEnumerable<(string Field, string Description)> violations) =>
        InvalidArgumentStatus(message, violations).ToRpcException();

    /// <summary>INVALID_ARGUMENT with a machine-readable <see cref="ErrorInfo"/> reason beside the field violations.</summary>
    public static RpcException InvalidArgument(string message, IEnumerable<(string Field, string Description)> violations, string reason, IDictionary<string, string> metadata)
    {
        var status = InvalidArgumentStatus(message, violations);
        var info = new ErrorInfo { Reason = reason, Domain = Domain };
        info.Metadata.Add(metadata);
        status.Details.Insert(0, Any.Pack(info));
        return status.ToRpcException();
    }

    private static Google.Rpc.Status InvalidArgumentStatus(string message, IEnumerable<(string Field, string Description)> violations)
    {
        var badRequest = new BadRequest();
        foreach (var (field, description) in violations)
        {
            badRequest.FieldViolations.Add(new BadRequest.Types.FieldViolation { Field = field, Description = description });
        }
        return new Google.Rpc.Status
        {
            Code = (int)Code.InvalidArgument,
            Message = message,
            Details = { Any.Pack(badRequest) },
        };
    }

    public static RpcException InvalidArgument(string field, string description) =>
        InvalidArgument($"{field}: {description}", [(field, description)]);

    /// <summary>An error with a machine-readable <see cref="ErrorInfo"/> reason (UPPER_SNAKE_CASE).</summary>
    public static RpcException WithReason(Code code, string reason, string message, IDictionary<string, string>? metadata = null)
    {
        var info = new ErrorInfo { Reason = reason, Domain = Domain };
        if (metadata is not null)
        {
            info.Metadata.Add(metadata);
        }
        return new Google.Rpc.Status
        {
            Code = (int)code,
            Message = message,
            Details = { Any.Pack(info) },
        }.ToRpcException();
    }
}
