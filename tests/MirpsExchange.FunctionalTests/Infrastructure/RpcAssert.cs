using Google.Rpc;
using Grpc.Core;

namespace MirpsExchange.FunctionalTests.Infrastructure;

public static class RpcAssert
{
    /// <summary>Asserts the call fails with INVALID_ARGUMENT and a BadRequest violation on exactly <paramref name="field"/>; returns it.</summary>
    public static async Task<BadRequest.Types.FieldViolation> InvalidArgumentAsync(Func<Task> call, string field)
    {
        var error = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        var badRequest = error.GetRpcStatus()?.GetDetail<BadRequest>();
        Assert.NotNull(badRequest);
        var violation = Assert.Single(badRequest.FieldViolations, v => v.Field == field);
        Assert.False(string.IsNullOrWhiteSpace(violation.Description));
        return violation;
    }

    public static async Task<ErrorInfo> ReasonAsync(Func<Task> call, StatusCode code, string reason)
    {
        var error = await Assert.ThrowsAsync<RpcException>(call);
        Assert.Equal(code, error.StatusCode);
        var info = error.GetRpcStatus()?.GetDetail<ErrorInfo>();
        Assert.NotNull(info);
        Assert.Equal(reason, info.Reason);
        return info;
    }
}
