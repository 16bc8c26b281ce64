using System.Collections.Concurrent;

namespace MirpsExchange.Identity.Tokens;

/// <summary>
/// Counts per key in fixed windows: a key's window starts with its first count and lasts
/// <c>window</c>; at <c>limit</c> counts the key is full until its window ends. Only
/// <see cref="TryCount"/> adds a key, and only while the key is below its limit; <see cref="RetryAfter"/>
/// only reads. So a request that is refused adds nothing. Keys whose window has ended are swept once per
/// window: the keys held are those counted in the last two windows.
/// </summary>
public sealed class WindowCounts
{
    private readonly ConcurrentDictionary<string, (long End, int Count)> _counts = new(StringComparer.Ordinal);
    private readonly int _limit;
    private readonly long _length;
    private readonly TimeProvider _clock;
    private long _nextSweep;

    public WindowCounts(int limit, TimeSpan window, TimeProvider clock)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        _limit = limit;
        _length = (long)(window.TotalSeconds * clock.TimestampFrequency);
        _clock = clock;
    }

    /// <summary>How many keys are held (a gauge for operators, and what tests watch).</summary>
    public int Keys => _counts.Count;

    /// <summary>Counts one for <paramref name="key"/>; false, changing nothing, when its window already holds the limit.</summary>
    public bool TryCount(string key)
    {
        var now = _clock.GetTimestamp();
        Sweep(now);
        while (true)
        {
            if (!_counts.TryGetValue(key, out var current))
            {
                if (_counts.TryAdd(key, (now + _length, 1)))
                {
                    return true;
                }
            }
            else if (current.End <= now)
            {
                if (_counts.TryUpdate(key, (now + _length, 1), current))
                {
                    return true;
                }
            }
            else if (current.Count >= _limit)
            {
                return false;
            }
            else if (_counts.TryUpdate(key, (current.End, current.Count + 1), current))
            {
                return true;
            }
        }
    }

    /// <summary>While <paramref name="key"/>'s window holds the limit, the time until it ends; otherwise null.</summary>
    public TimeSpan? RetryAfter(string key)
    {
        var now = _clock.GetTimestamp();
        return _counts.TryGetValue(key, out var current) && current.End > now && current.Count >= _limit
            ? _clock.GetElapsedTime(now, current.End)
            : null;
    }

    private void Sweep(long now)
    {
        var next = Volatile.Read(ref _nextSweep);
        if (now < next || Interlocked.CompareExchange(ref _nextSweep, now + _length, next) != next)
        {
            return;
        }
        foreach (var entry in _counts)
        {
            if (entry.Value.End <= now)
            {
                _counts.TryRemove(entry); // only if unchanged since read: a key counted meanwhile stays
            }
        }
    }
}
