using System.Globalization;
using System.Runtime.InteropServices;
using MirpsExchange.Node.Extensions;

namespace MirpsExchange.UnitTests.Store;

/// <summary>Run alone: it reads the process's resident memory, which other tests' allocations would move.</summary>
[CollectionDefinition(nameof(MallocArenasTests), DisableParallelization = true)]
public sealed class MallocArenasCollection;

/// <summary>
/// What glibc's malloc keeps of memory the process freed, and <see cref="MallocArenas.Trim"/> giving it back: the pages a
/// SQLite connection drops whenever another one wrote are freed between pages still held, on many threads, so they can
/// neither merge into the top of an arena nor be returned by free() itself (docs/performance.md, "Memory").
/// </summary>
[Collection(nameof(MallocArenasTests))]
public sealed class MallocArenasTests
{
    private const int Page = 8 * 1024 + 256; // a SQLite 8 KiB page with its header, as its page cache allocates it
    private const int PagesPerThread = 4_096; // 33 MiB on each of 8 threads
    private const long MiB = 1024 * 1024;
    private static readonly byte[] Ones = Enumerable.Repeat((byte)1, Page).ToArray();

    [Fact]
    public void Freed_pages_between_held_ones_stay_resident_until_trimmed()
    {
        if (!OperatingSystem.IsLinux() || !MallocArenas.Trim())
        {
            return; // no glibc here: its own allocator, nothing to give back
        }
        var held = new List<nint>();
        try
        {
            // Each thread allocates its pages (on its own arena), then frees three of every four: the freed ones sit between held ones.
            var threads = Enumerable.Range(0, 8).Select(_ => new Thread(() =>
            {
                var pages = new nint[PagesPerThread];
                for (var i = 0; i < pages.Length; i++)
                {
                    pages[i] = Marshal.AllocHGlobal(Page);
                    Marshal.Copy(Ones, 0, pages[i], Page); // resident, as a page read into a cache is
                }
                for (var i = 0; i < pages.Length; i++)
                {
                    if (i % 4 == 0)
                    {
                        lock (held)
                        {
                            held.Add(pages[i]);
                        }
                    }
                    else
                    {
                        Marshal.FreeHGlobal(pages[i]);
                    }
                }
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());

            var freed = 8L * PagesPerThread * 3 / 4 * Page; // about 200 MiB
            var before = ResidentAnonymous();
            Assert.True(MallocArenas.Trim());
            var after = ResidentAnonymous();
            // Without the trim nothing gives the freed pages back: the process keeps them resident.
            Assert.True(before - after > freed / 2, $"resident anonymous memory {before / MiB} MiB before the trim, {after / MiB} MiB after; {freed / MiB} MiB were freed");
        }
        finally
        {
            held.ForEach(Marshal.FreeHGlobal);
            MallocArenas.Trim();
        }
    }

    /// <summary>RssAnon of /proc/self/status, bytes.</summary>
    private static long ResidentAnonymous()
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("RssAnon:", StringComparison.Ordinal));
        return long.Parse(line["RssAnon:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }
}
