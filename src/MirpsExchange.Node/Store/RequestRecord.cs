namespace MirpsExchange.Node.Store;

/// <summary>The answer given to a mutating call with a request_id, replayed when the call is retried.</summary>
public sealed class RequestRecord
{
    public required string RequestId { get; set; }
    /// <summary>The RPC, for example "SubmitObservations".</summary>
    public required string Operation { get; set; }
    /// <summary>SHA-256 of the request's protobuf encoding: the same id with other content is refused.</summary>
    public required byte[] RequestDigest { get; set; }
    public required byte[] Response { get; set; }
    public long RecordedTime { get; set; }
}
