using System.Diagnostics;
using MirpsExchange.Catalogue;
using MirpsExchange.Catalogue.Periods;
using MirpsExchange.Catalogue.Validation.Rules;

namespace MirpsExchange.Benchmarks;

/// <summary>
/// The validation rules' own cost in process, over the submit workload cut into batches: each batch's cells
/// with the previous batches' cells of the tables it needs as the stored values (what a node loads), then
/// <see cref="CatalogueRules.Evaluate"/>. No store, no gRPC: the engine alone, per million observations.
/// </summary>
public static class RulesBenchmark
{
    public static Task<int> RunAsync(BenchmarkArgs args)
    {
        var catalogue = StandardCatalogue.LoadStandard();
        var rows = Workload.Generate(catalogue, "BLZ", args.Rows);
        var only = Environment.GetEnvironmentVariable("MIRPS_RULES_ONLY");
        if (only is not null)
        {
            var catalog = catalogue.Catalog.Clone();
            var keep = catalog.ValidationRules.Where(r => r.Id == only).ToList();
            catalog.ValidationRules.Clear();
            catalog.ValidationRules.Add(keep);
            catalogue = new StandardCatalogue(catalog);
        }
        var rules = new CatalogueRules(catalogue);
        var evaluate = new Stopwatch();
        using var process = Process.GetCurrentProcess();
        var cpu = TimeSpan.Zero;
        for (var round = 1; round <= args.Rounds; round++)
        {
            var stored = new Dictionary<RuleTable, List<Mirps.Observation.V1.Observation>>();
            long loaded = 0, findings = 0;
            var watch = Stopwatch.StartNew();
            foreach (var batch in rows.Chunk(args.BatchSize))
            {
                var cells = rules.NewCells("BLZ");
                for (var i = 0; i < batch.Length; i++)
                {
                    cells.AddRequest(batch[i].IndicatorCode, Period.Parse(batch[i].Period), ObservationDimensionFields.Values(batch[i]), batch[i].Value, i);
                }
                var needs = rules.TablesFor(cells.RequestTables);
                var existing = CatalogueRules.ToCheck(needs, cells.RequestTables).Where(stored.ContainsKey).ToHashSet();
                foreach (var table in CatalogueRules.ToRead(needs, cells.RequestTables, existing))
                {
                    foreach (var o in stored.GetValueOrDefault(table) ?? [])
                    {
                        cells.AddStored(o.IndicatorCode, table.Period, ObservationDimensionFields.Values(o), o.Value);
                        loaded++;
                    }
                }
                evaluate.Start();
                var cpuBefore = process.TotalProcessorTime;
                var result = rules.Evaluate(cells, requestOnly: true);
                process.Refresh();
                cpu += process.TotalProcessorTime - cpuBefore;
                evaluate.Stop();
                findings += result.Count;
                if (result.Any(f => f.IsError))
                {
                    throw new InvalidOperationException($"the workload breaks an error rule: {result.First(f => f.IsError).Message}");
                }
                foreach (var o in batch)
                {
                    var table = new RuleTable(o.IndicatorCode, Period.Parse(o.Period));
                    if (!stored.TryGetValue(table, out var list))
                    {
                        stored[table] = list = [];
                    }
                    list.Add(o);
                }
            }
            Console.WriteLine($"round {round}: {rows.Count / watch.Elapsed.TotalSeconds,12:N0} obs/s through the rules ({watch.Elapsed.TotalMilliseconds / rows.Count * 1_000_000 / 1000:N2} s per million; {loaded:N0} stored cells read, {findings:N0} warnings; evaluation {evaluate.Elapsed.TotalSeconds:N2} s, {cpu.TotalSeconds:N2} s of CPU)");
            evaluate.Reset();
            cpu = TimeSpan.Zero;
        }
        return Task.FromResult(0);
    }
}
