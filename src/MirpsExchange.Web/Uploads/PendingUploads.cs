using System.Collections.Concurrent;
using System.Security.Cryptography;
using Mirps.Observation.V1;
using MirpsExchange.Catalogue.Csv;

namespace MirpsExchange.Web.Uploads;

/// <summary>Where an upload stands: read and judged (refused, or valid and waiting for the person's confirmation), or submitted.</summary>
public enum UploadStage
{
    Refused,
    Valid,
    Submitted,
}

/// <summary>
/// One file a person uploaded, between its validation and the confirmation that submits it: the rows read, every problem
/// located in the file, the rules' warnings, and once submitted the node's answer. Only its owner (the account's sub) reads it.
/// </summary>
public sealed class PendingUpload
{
    public required string Id { get; init; }

    public required string Owner { get; init; }

    public required string FileName { get; init; }

    public DateTimeOffset Created { get; } = DateTimeOffset.UtcNow;

    /// <summary>The file as read (its rows and their places); empty when it could not be read.</summary>
    public ObservationFile File { get; init; } = new();

    public List<UploadProblem> Problems { get; } = [];

    public List<UploadProblem> Warnings { get; } = [];

    /// <summary>Set when the file was too large to read: its limit in bytes.</summary>
    public long? TooLargeLimit { get; set; }

    public UploadStage Stage { get; set; }

    public SubmitObservationsResponse? Result { get; set; }

    /// <summary>The request id of the submission: the same for every confirmation of this upload, so the node writes it once.</summary>
    public string RequestId => $"web-upload-{Id}";

    public IReadOnlyList<Observation> Observations => File.Observations;
}

/// <summary>A problem shown against the file: where (sheet, row, column) and what, and whether it stops the submission.</summary>
public sealed record UploadProblem(FileProblem Where, bool IsError, string? MessageKey = null);

/// <summary>
/// The uploads waiting for their owner's confirmation, in memory: one per person (a new upload replaces the person's
/// earlier one), each for an hour. A restart forgets them; the person uploads the file again.
/// </summary>
public sealed class PendingUploads(Microsoft.Extensions.Options.IOptions<WebOptions> options)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);

    /// <summary>How many uploads may be received, read and judged at once (Web:MaxConcurrentUploads): each may take a file's memory and a core.</summary>
    public int MaxReading { get; } = Math.Max(1, options.Value.MaxConcurrentUploads);

    /// <summary>The uploads being received, read and judged now (at most <see cref="MaxReading"/>).</summary>
    public SemaphoreSlim Reading { get; } = new(Math.Max(1, options.Value.MaxConcurrentUploads));

    /// <summary>How many uploads one account may have received, read and judged at once (Web:MaxConcurrentUploadsPerAccount).</summary>
    public int MaxPerAccount { get; } = Math.Max(1, options.Value.MaxConcurrentUploadsPerAccount);

    /// <summary>The uploads in progress per account (at most <see cref="MaxPerAccount"/> each).</summary>
    public MirpsExchange.ServiceDefaults.PartyLimit PerAccount { get; } = new(Math.Max(1, options.Value.MaxConcurrentUploadsPerAccount));

    private readonly ConcurrentDictionary<string, PendingUpload> _uploads = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _latest = new(StringComparer.Ordinal);

    /// <summary>An unguessable id (128 random bits).</summary>
    public static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    public void Add(PendingUpload upload)
    {
        foreach (var old in _uploads.Values.Where(u => DateTimeOffset.UtcNow - u.Created > Lifetime))
        {
            _uploads.TryRemove(old.Id, out _);
        }
        _uploads[upload.Id] = upload;
        if (_latest.TryGetValue(upload.Owner, out var earlier) && earlier != upload.Id)
        {
            _uploads.TryRemove(earlier, out _);
        }
        _latest[upload.Owner] = upload.Id;
    }

    /// <summary>The upload <paramref name="id"/> if <paramref name="owner"/> made it and it has not expired; else null.</summary>
    public PendingUpload? Find(string? id, string? owner) =>
        id is not null && owner is { Length: > 0 } && _uploads.TryGetValue(id, out var upload) && upload.Owner == owner
            && DateTimeOffset.UtcNow - upload.Created <= Lifetime ? upload : null;
}
