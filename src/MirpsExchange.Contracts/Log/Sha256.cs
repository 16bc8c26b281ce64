using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Mirps.Log;

/// <summary>
/// SHA-256 of the short inputs the change log hashes (about 100 bytes, three per change), at the cost of the
/// digest rather than of the call. On Linux, .NET's SHA-256 goes through OpenSSL 3's EVP interface, which looks
/// the algorithm up again on every digest: about 300 ns for a 2-block input whose compression takes under 70 ns
/// on a CPU with SHA extensions (measured 2026-12-06, docs/performance.md). OpenSSL's own SHA256_Init, _Update
/// and _Final (the same library .NET loads, deprecated but exported in OpenSSL 3) skip that look-up. They are
/// used only when they load and give the framework's digests on a self-test; otherwise (other systems, a
/// library without them) a reused <see cref="IncrementalHash"/> per thread.
/// </summary>
public static unsafe class Sha256
{
    /// <summary>OpenSSL's SHA256_CTX is 112 bytes; room to spare.</summary>
    private const int ContextSize = 256;

    private static readonly delegate* unmanaged<byte*, int> s_init;
    private static readonly delegate* unmanaged<byte*, byte*, nuint, int> s_update;
    private static readonly delegate* unmanaged<byte*, byte*, int> s_final;

    /// <summary>Whether OpenSSL's direct functions are in use (else the framework's).</summary>
    public static bool Direct { get; }

    [ThreadStatic]
    private static IncrementalHash? t_framework;

    static Sha256()
    {
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libcrypto.so.3", out var library))
        {
            return;
        }
        if (NativeLibrary.TryGetExport(library, "SHA256_Init", out var init)
            && NativeLibrary.TryGetExport(library, "SHA256_Update", out var update)
            && NativeLibrary.TryGetExport(library, "SHA256_Final", out var final))
        {
            s_init = (delegate* unmanaged<byte*, int>)init;
            s_update = (delegate* unmanaged<byte*, byte*, nuint, int>)update;
            s_final = (delegate* unmanaged<byte*, byte*, int>)final;
            Direct = SelfTest();
        }
    }

    public static void Hash(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, SHA256.HashSizeInBytes, nameof(destination));
        if (!Direct || !HashDirect(data, destination))
        {
            var sha256 = t_framework ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            sha256.AppendData(data);
            sha256.GetHashAndReset(destination);
        }
    }

    /// <summary>False when OpenSSL reports a failure (then the caller uses the framework's digest).</summary>
    private static bool HashDirect(ReadOnlySpan<byte> data, Span<byte> destination)
    {
        var context = stackalloc byte[ContextSize];
        fixed (byte* input = data)
        fixed (byte* output = destination)
        {
            return s_init(context) == 1 && s_update(context, input, (nuint)data.Length) == 1 && s_final(output, context) == 1;
        }
    }

    /// <summary>The direct digests equal the framework's for inputs around every block boundary of the padding.</summary>
    private static bool SelfTest()
    {
        var input = new byte[300];
        for (var i = 0; i < input.Length; i++)
        {
            input[i] = (byte)(i * 31 + 7);
        }
        Span<byte> direct = stackalloc byte[SHA256.HashSizeInBytes], framework = stackalloc byte[SHA256.HashSizeInBytes];
        foreach (var length in new[] { 0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 300 })
        {
            SHA256.HashData(input.AsSpan(0, length), framework);
            if (!HashDirect(input.AsSpan(0, length), direct) || !direct.SequenceEqual(framework))
            {
                return false;
            }
        }
        return true;
    }
}
