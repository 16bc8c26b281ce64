using System.Security.Cryptography;
using Mirps.Log;

namespace MirpsExchange.UnitTests.Log;

public class Sha256Tests
{
    [Fact]
    public void Digests_equal_the_frameworks_for_every_length_up_to_five_blocks()
    {
        var random = new Random(20261206);
        var input = new byte[321];
        random.NextBytes(input);
        var (direct, framework) = (new byte[32], new byte[32]);
        for (var length = 0; length <= input.Length; length++)
        {
            Sha256.Hash(input.AsSpan(0, length), direct);
            SHA256.HashData(input.AsSpan(0, length), framework);
            Assert.True(direct.AsSpan().SequenceEqual(framework), $"length {length}");
        }
    }

    [Fact]
    public void Digests_agree_across_threads()
    {
        var inputs = Enumerable.Range(0, 64).Select(i => Enumerable.Range(0, 40 + i).Select(b => (byte)(b ^ i)).ToArray()).ToArray();
        var expected = inputs.Select(SHA256.HashData).ToArray();
        Parallel.For(0, 20_000, i =>
        {
            Span<byte> digest = stackalloc byte[32];
            Sha256.Hash(inputs[i % inputs.Length], digest);
            Assert.True(digest.SequenceEqual(expected[i % inputs.Length]));
        });
    }

    [Fact]
    public void On_linux_the_direct_OpenSSL_path_is_used()
    {
        // The change log's speed depends on it (docs/performance.md): a silent fall back to the framework's
        // EVP path makes signing and verifying about four times slower per change.
        // OpenSSL's direct functions are looked for on Linux only (elsewhere the framework's digest serves).
        Assert.Equal(OperatingSystem.IsLinux(), Sha256.Direct);
    }

    [Fact]
    public void A_destination_too_short_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Sha256.Hash([1, 2, 3], new byte[31]));
    }
}
