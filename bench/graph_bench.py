"""Kuzu query latency on the ingested graph: 1-hop and 2-hop queries anchored on a variant, and the
product's named queries, on one read-only connection (and once through `GraphStore.query`, which
opens the database per query as the CLI does)."""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

import kuzu

from vcf_pipeline.lib.settings import Settings
from vcf_pipeline.lib.stores.graph_queries import QUERIES

ONE_HOP = "MATCH (v:Variant {variant_id: $id})-[r:IN_GENE]->(g:Gene) RETURN g.symbol, r.consequence"
TWO_HOP = ("MATCH (f:VcfFile)-[:CONTAINS]->(v:Variant {variant_id: $id})-[:ASSOCIATED_WITH]->(c:Condition) "
           "RETURN f.partition_key, c.name")


def _latencies(conn, cypher: str, params: list[dict]) -> dict:
    for p in params[:5]:
        conn.execute(cypher, p).get_as_arrow()
    times, rows = [], 0
    for p in params:
        started = time.perf_counter()
        rows += conn.execute(cypher, p).get_as_arrow().num_rows
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": statistics.median(times), "p95_ms": times[int(0.95 * (len(times) - 1))], "queries": len(params),
            "mean_rows": rows / len(params)}


def run(home: Path, variant_ids: list[str], carried_ids: list[str], samples: list[str], n: int = 200) -> dict:
    graph = Settings.load(home).graph_store()
    rng = random.Random(5)
    picks = [{"id": i} for i in rng.sample(variant_ids, min(n, len(variant_ids)))]
    db = kuzu.Database(str(graph.path), read_only=True)
    conn = kuzu.Connection(db)
    counts = {t: conn.execute(f"MATCH (x:{t}) RETURN count(*)").get_as_arrow().column(0)[0].as_py() for t in ("Variant", "Sample", "Gene")}
    out = {"nodes": counts, "one_hop_variant_gene": _latencies(conn, ONE_HOP, picks), "two_hop_file_variant_condition": _latencies(conn, TWO_HOP, picks)}
    if carried_ids:
        carried = [{"variant_id": i} for i in rng.sample(carried_ids, min(n, len(carried_ids)))]
        out["named_samples_with_variant_1hop"] = _latencies(conn, QUERIES["samples-with-variant"].cypher, carried)
        pairs = [{"sample_a": a, "sample_b": b} for a, b in (rng.sample(samples, 2) for _ in range(20))]
        out["named_shared_variants_2hop"] = _latencies(conn, QUERIES["shared-variants"].cypher, pairs)
    conn.close()
    db.close()
    started = time.perf_counter()
    for p in picks[:20]:
        graph.query(ONE_HOP, p)
    out["one_hop_with_open_ms_mean"] = (time.perf_counter() - started) * 1000 / 20
    return out
