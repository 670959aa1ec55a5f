"""Vector index designs at scale: each one built on the `variants` table of a home (in a child
process, so its build time and peak RSS are its own), then searched with 200 query texts not in
the table over a grid of settings: p50/p95 latency and recall@10 against exact search.

The home keeps the last design built; `run` ends by building the pipeline's own (`table_upkeep`)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from vcf_pipeline.lib.settings import Settings
from vcf_pipeline.lib.stores.table_upkeep import (
    VECTOR_COLUMN,
    IndexPolicy,
    maintain_variants,
    partitions_for,
)
from vcf_pipeline.lib.stores.variant_tables import VARIANTS
from vcf_pipeline.lib.system.memory import process_peak_mb

# name -> (index config, its keyword arguments given rows; the query settings tried)
DESIGNS = {
    "ivf_pq_48": ("IvfPq", lambda rows: {"num_partitions": partitions_for(rows), "num_sub_vectors": 48,
                                         "sample_rate": IndexPolicy.sample_rate},  # the pipeline's until 2026-12-03
                  [{"nprobes": 32, "refine_factor": 20}, {"nprobes": 64, "refine_factor": 40}]),
    "ivf_pq_48_sample_256": ("IvfPq", lambda rows: {"num_partitions": partitions_for(rows), "num_sub_vectors": 48, "sample_rate": 256},
                             [{"nprobes": 32, "refine_factor": 20}]),  # lancedb's default sample: the build's memory
    "ivf_pq_96": ("IvfPq", lambda rows: {"num_partitions": partitions_for(rows), "num_sub_vectors": 96},
                  [{"nprobes": 16, "refine_factor": 10}, {"nprobes": 32, "refine_factor": 10}, {"nprobes": 32, "refine_factor": 20}]),
    "ivf_hnsw_sq": ("IvfHnswSq", lambda rows: {"num_partitions": max(1, rows // 20_000)},
                    [{"nprobes": 2, "ef": 64}, {"nprobes": 4, "ef": 100}, {"nprobes": 4, "ef": 100, "refine_factor": 5},
                     {"nprobes": 8, "ef": 150, "refine_factor": 5}]),
    "ivf_rq": ("IvfRq", lambda rows: {"num_partitions": partitions_for(rows), "sample_rate": IndexPolicy.sample_rate},  # the pipeline's
               [{"nprobes": 32, "refine_factor": 20}, {"nprobes": 32, "refine_factor": 50}]),
    "ivf_rq_sample_256": ("IvfRq", lambda rows: {"num_partitions": partitions_for(rows), "sample_rate": 256},
                          [{"nprobes": 32, "refine_factor": 20}]),
}


def build(home: Path, design: str, sample_rate: int = 256) -> dict:
    """Build `design` on the home's variants table, replacing its vector indexes; seconds and the
    peak RSS of the process that built it."""
    import lancedb.index

    kind, arguments, _ = DESIGNS[design]
    table = Settings.load(home).variant_store().open_table(VARIANTS)
    rows = table.count_rows()
    config = getattr(lancedb.index, kind)(**{"distance_type": "cosine", "sample_rate": sample_rate, **arguments(rows)})
    old = [i.name for i in table.list_indices() if i.columns == [VECTOR_COLUMN]]
    started = time.perf_counter()
    table.create_index(VECTOR_COLUMN, config=config, replace=True, name=f"bench_{design}")
    seconds = time.perf_counter() - started
    for name in old:
        if name != f"bench_{design}":
            table.drop_index(name)
    return {"rows": rows, "config": {"kind": kind, "sample_rate": sample_rate, **arguments(rows)},  # the design's own rate wins
            "build_seconds": seconds, "build_peak_rss_mb": process_peak_mb()}


def _built_in_child(home: Path, design: str, sample_rate: int) -> dict:
    script = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import ann_bench, json; " \
             f"print('RESULT', json.dumps(ann_bench.build(__import__('pathlib').Path({str(home)!r}), {design!r}, {sample_rate})))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("RESULT"))[7:])


def _search(table, vectors, settings: dict | None):
    """Latencies (ms) and (ids, distances) of each query; exact when `settings` is None."""
    latencies, results = [], []
    for v in vectors:
        started = time.perf_counter()
        query = table.search(v, vector_column_name=VECTOR_COLUMN).distance_type("cosine").select(["variant_id", "_distance"]).limit(10)
        if settings is None:
            query = query.bypass_vector_index()
        else:
            query = query.nprobes(settings["nprobes"])
            if settings.get("refine_factor"):
                query = query.refine_factor(settings["refine_factor"])
            if settings.get("ef"):
                query = query.ef(settings["ef"])
        hits = query.to_arrow()
        latencies.append((time.perf_counter() - started) * 1000)
        results.append((hits.column("variant_id").to_pylist(), hits.column("_distance").to_numpy()))
    return latencies, results


def run(home: Path, designs=tuple(DESIGNS), queries: int = 200, sample_rate: int = 256) -> dict:
    from search_bench import _queries, _recall, _summary

    settings = Settings.load(home)
    vectors = _queries(settings.embedder(), queries)  # the home's own model: its vectors and the queries' must agree
    table = settings.variant_store().open_table(VARIANTS)
    _search(table, vectors[:10], None)
    latencies, exact = _search(table, vectors, None)
    out = {"rows": table.count_rows(), "queries": len(vectors), "exact": _summary(latencies), "designs": {}}
    for design in ("as built", *designs):  # first the index the pipeline's upkeep left, as it is
        built = {"index": [i.index_type for i in table.list_indices() if i.columns == [VECTOR_COLUMN]]} if design == "as built" \
            else _built_in_child(home, design, sample_rate)
        table = settings.variant_store().open_table(VARIANTS)
        grid = []
        for setting in DESIGNS["ivf_rq" if design == "as built" else design][2]:  # its query settings
            _search(table, vectors[:10], setting)  # warm the caches
            latencies, approx = _search(table, vectors, setting)
            grid.append({**setting, **_summary(latencies), "recall_at_10": _recall(exact, approx)})
            print(f"  {design} {setting}: p50 {grid[-1]['p50_ms']:.1f} ms, recall@10 {grid[-1]['recall_at_10']:.3f}", flush=True)
        out["designs"][design] = {**built, "grid": grid}
        print(f"  {design}: {built}", flush=True)
    table = settings.variant_store().open_table(VARIANTS)
    for index in table.list_indices():
        if index.name.startswith("bench_"):
            table.drop_index(index.name)
    maintain_variants(table, IndexPolicy())
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    result = run(Path(sys.argv[1]), tuple(sys.argv[2:]) or tuple(DESIGNS))
    print(json.dumps(result, indent=1))
