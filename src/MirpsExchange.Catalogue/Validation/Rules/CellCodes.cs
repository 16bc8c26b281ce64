namespace MirpsExchange.Catalogue.Validation.Rules;

/// <summary>
/// A cell's dimension codes packed into one number, its key among the cells of a table: per dimension, the code's
/// place in its codelist (0: empty, the dimension not declared) in bits of its own. A cell is found by that number
/// and a breakdown by it with one dimension's bits cleared, without a string built per cell.
/// </summary>
public sealed class CellCodes
{
    private readonly Dictionary<string, int>[] _places;
    private readonly string[][] _codes;
    private readonly int[] _shifts;
    private readonly long[] _masks;

    public CellCodes(StandardCatalogue catalogue)
    {
        var count = StandardCatalogue.ObservationDimensions.Count;
        _places = new Dictionary<string, int>[count];
        _codes = new string[count][];
        _shifts = new int[count];
        _masks = new long[count];
        var shift = 0;
        for (var d = 0; d < count; d++)
        {
            _codes[d] = ["", .. catalogue.DimensionCodes(StandardCatalogue.ObservationDimensions[d]).Order(StringComparer.Ordinal)];
            _places[d] = _codes[d].Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
            var bits = 1;
            while ((1L << bits) < _codes[d].Length)
            {
                bits++;
            }
            _shifts[d] = shift;
            _masks[d] = ((1L << bits) - 1) << shift;
            shift += bits;
        }
        if (shift > 62)
        {
            throw new InvalidOperationException($"the dimensions' codelists need {shift} bits to pack a cell's codes; at most 62 fit");
        }
    }

    /// <summary>The bits of dimension <paramref name="d"/>.</summary>
    public long Mask(int d) => _masks[d];

    /// <summary>The bits of <paramref name="code"/> in dimension <paramref name="d"/>; false when the code is not in its codelist.</summary>
    public bool TryBits(int d, string code, out long bits)
    {
        if (_places[d].TryGetValue(code, out var place))
        {
            bits = (long)place << _shifts[d];
            return true;
        }
        bits = 0;
        return false;
    }

    /// <summary>
    /// The key of <paramref name="dimensions"/>, whose codes are replaced by the catalogue's own instances (a value read
    /// from the store is dropped at once); false when a code is not in its codelist (such a cell cannot be judged).
    /// </summary>
    public bool TryPack(string[] dimensions, out long key) => TryPack(dimensions, out key, null);

    /// <summary>
    /// <see cref="TryPack(string[], out long)"/>, where a code equal to the one <paramref name="recent"/> last packed in its
    /// dimension is not looked up again (cells come table by table, so most of their codes repeat the cell before's).
    /// </summary>
    public bool TryPack(string[] dimensions, out long key, Recent? recent)
    {
        key = 0;
        for (var d = 0; d < dimensions.Length; d++)
        {
            int place;
            if (recent is not null && string.Equals(dimensions[d], recent.Codes[d], StringComparison.Ordinal))
            {
                place = recent.Places[d];
            }
            else if (!_places[d].TryGetValue(dimensions[d], out place))
            {
                return false;
            }
            else if (recent is not null)
            {
                (recent.Codes[d], recent.Places[d]) = (_codes[d][place], place);
            }
            dimensions[d] = _codes[d][place];
            key |= (long)place << _shifts[d];
        }
        return true;
    }

    /// <summary>The codes one caller packed last, one per dimension (not shared between threads).</summary>
    public sealed class Recent
    {
        internal readonly string?[] Codes = new string?[StandardCatalogue.ObservationDimensions.Count];
        internal readonly int[] Places = new int[StandardCatalogue.ObservationDimensions.Count];
    }
}
