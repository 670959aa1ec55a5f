"""Vector search on the ingested `variants` table: exact search against the vector index the
pipeline maintains, p50/p95 latency and recall@10, over query texts that are not in the table."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from vcf_pipeline.lib.embedding.embedder import Embedder
from vcf_pipeline.lib.embedding.text import describe_variant
from vcf_pipeline.lib.settings import Settings
from vcf_pipeline.lib.stores.table_upkeep import IndexPolicy
from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline.lib.stores.variant_tables import VARIANTS
from vcf_pipeline.lib.vcf.synthetic import variant_universe

QUERY_TEXTS = [
    "pathogenic BRCA1 frameshift in hereditary breast cancer",
    "benign synonymous variant in CFTR",
    "stop gained in TP53 Li-Fraumeni",
    "splice donor variant of uncertain significance",
]


def _queries(embedder: Embedder, n: int) -> np.ndarray:
    rows = [v.__dict__ for v in variant_universe(n, seed=999)]
    texts = [describe_variant({"gene_symbol": r["gene"][0], "hgvs_p": r["hgvs_p"], "consequence": r["consequence"],
                               "impact": r["impact"], "clinical_significance": r["significance"], "variant_type": "SNV",
                               "ref": r["ref"], "alt": r["alt"]}) for r in rows]
    return embedder.encode(QUERY_TEXTS + texts[: n - len(QUERY_TEXTS)])


def _timed_search(store: VariantStore, vectors, exact: bool):
    latencies, results = [], []
    for v in vectors:
        started = time.perf_counter()
        hits = store.search(v, limit=10, columns=["variant_id"], exact=exact)
        latencies.append((time.perf_counter() - started) * 1000)
        results.append((hits.column("variant_id").to_pylist(), hits.column("_distance").to_numpy()))
    return latencies, results


def _recall(exact, approx) -> float:
    """Share of the true top 10 found; ties at the 10th distance count as found (texts repeat, so
    vectors do)."""
    found = []
    for (ids, dist), (got, got_dist) in zip(exact, approx):
        bound = dist[-1] + 1e-6
        truth = set(ids)
        found.append(min(10, sum(1 for g, d in zip(got, got_dist) if g in truth or d <= bound)) / 10)
    return float(np.mean(found))


def _summary(latencies) -> dict:
    ordered = sorted(latencies)
    return {"p50_ms": statistics.median(ordered), "p95_ms": ordered[int(0.95 * (len(ordered) - 1))]}


def run(home: Path, queries: int = 200, grid=((8, 1), (16, 10), (24, 20), (32, 20), (48, 20), (64, 40))) -> dict:
    store = Settings.load(home).variant_store()
    rows = store.count(VARIANTS)
    vectors = _queries(Embedder(), queries)
    started = time.perf_counter()
    upkeep = store.maintain()  # what the pipeline did after the last write: normally nothing left to do
    maintain_s = time.perf_counter() - started
    table = store.db.open_table(VARIANTS)
    out = {"rows": rows, "queries": len(vectors), "upkeep_actions": upkeep.actions, "upkeep_seconds": maintain_s,
           "indexes": [i.name for i in table.list_indices()]}
    _timed_search(store, vectors[:10], exact=True)  # warm the caches
    lat, exact = _timed_search(store, vectors, exact=True)
    out["exact"] = _summary(lat)
    default = IndexPolicy()
    out["grid"] = []
    for nprobes, refine in grid:
        store.policy = IndexPolicy(nprobes=nprobes, refine_factor=refine)
        _timed_search(store, vectors[:10], exact=False)
        lat, approx = _timed_search(store, vectors, exact=False)
        out["grid"].append({"nprobes": nprobes, "refine_factor": refine, **_summary(lat), "recall_at_10": _recall(exact, approx),
                            "default": (nprobes, refine) == (default.nprobes, default.refine_factor)})
    return out


def hybrid(home: Path, per_kind: int = 40, seed: int = 5) -> dict:
    """Hybrid search (`lib/search/hybrid.py`) on the same store: p50/p95 per query kind, in process,
    with and without the query's embedding; and recall@10 of its vector part (the prefiltered
    nearest-neighbour list) against exact search with the same filter."""
    import random

    from vcf_pipeline.lib.search.hybrid import VariantSearch
    from vcf_pipeline.lib.search.query_reading import read_query

    settings = Settings.load(home)
    store = settings.variant_store()
    table = store.db.open_table(VARIANTS)
    embedder = settings.embedder()
    rng = random.Random(seed)
    sample = table.search().select(["gene_symbol", "rsid", "hgvs_p", "chrom", "pos"]).limit(None).to_arrow()
    rows = [sample.slice(i, 1).to_pylist()[0] for i in rng.sample(range(sample.num_rows), 4 * per_kind)]
    queries = {
        "gene + words": [f"{r['gene_symbol']} pathogenic frameshift" for r in rows if r["gene_symbol"]][:per_kind],
        "rsID": [r["rsid"] for r in rows if r["rsid"]][:per_kind],
        "gene + protein change": [f"{r['gene_symbol']} {r['hgvs_p'].split(':')[-1]}" for r in rows if r["gene_symbol"] and r["hgvs_p"]][:per_kind],
        "region (20 kb)": [f"{r['chrom']}:{max(1, r['pos'] - 10_000)}-{r['pos'] + 10_000}" for r in rows][:per_kind],
        "free text": [t for t in QUERY_TEXTS for _ in range(per_kind // len(QUERY_TEXTS))],
    }
    vectors: dict[str, np.ndarray] = {}

    def encode(texts):  # timed apart: the embedding of a query is the model's cost, not the search's
        return np.stack([vectors[t] for t in texts])

    all_texts = sorted({t for texts in queries.values() for t in texts})
    started = time.perf_counter()
    for text in all_texts:
        vectors[text] = embedder.encode([text])[0]
    encode_ms = (time.perf_counter() - started) * 1000 / len(all_texts)
    search = VariantSearch(table, encode, nprobes=IndexPolicy().nprobes, refine_factor=IndexPolicy().refine_factor)
    exact_search = VariantSearch(table, encode, exact=True)
    for text in all_texts[:10]:
        search.search(text)  # warm the caches
    out: dict = {"rows": table.count_rows(), "encode_ms_per_query": encode_ms, "kinds": {}}
    every, recalls = [], []
    for kind, texts in queries.items():
        latencies = []
        for text in texts:
            started = time.perf_counter()
            search.search(text, limit=10)
            latencies.append((time.perf_counter() - started) * 1000)
        every += latencies
        out["kinds"][kind] = {"queries": len(texts), **_summary(latencies)}
    for text in queries["gene + words"] + queries["free text"]:  # the queries whose ranking uses the vector index
        where, _ = search.exact_filter(read_query(text, search.known_genes), None)
        approx = search.nearest(text, 10, where, ["variant_id"])
        exact = exact_search.nearest(text, 10, where, ["variant_id"])
        bound = exact[-1]["_distance"] + 1e-6 if exact else 0
        truth = {e["variant_id"] for e in exact}
        recalls.append(min(len(exact), sum(1 for a in approx if a["variant_id"] in truth or a["_distance"] <= bound)) / max(1, len(exact)))
    out["all"] = _summary(every)
    out["all_with_encode_p50_ms"] = out["all"]["p50_ms"] + encode_ms
    out["vector_part_recall_at_10"] = float(np.mean(recalls))
    return out


def hybrid_on_spread(work: Path, records: int) -> dict:
    """`hybrid` on a store of `records` variants at a real file's density (20,000 made-up genes along
    ten chromosomes, `bench_files.annotated_spread`), ingested once with the `static` backend (the
    same steps and stores; 1M texts embed in a minute instead of 25)."""
    import bench_files
    import ingest_bench

    home = work / f"home_search_spread_{records}"
    vcf = bench_files.annotated_spread(work, records)
    out: dict = {}
    if not (home / "lancedb").exists():
        home.mkdir(parents=True, exist_ok=True)
        (home / "vcf-pipeline.yaml").write_text("embedding:\n  backend: static\n")
        out["ingest"] = ingest_bench.ingest(home, vcf)
    return {**out, **hybrid(home)}
