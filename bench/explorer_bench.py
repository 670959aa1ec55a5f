"""Explorer page timings on the 1M-row bench store (`home_search_spread_1000000`: real density, 20,000
genes): the search page (hybrid search of gene + words, a gene alone, an rsID, a region) and the
variant page, each requested in-process (Starlette's test client, so no network) and timed by the
app's own `Server-Timing` header; the same search asked of `VariantSearch` directly is the
reference. p50 and p95 of 40 requests each, after one warm-up request per kind."""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path


def _server_ms(response) -> float:
    assert response.status_code == 200, response.text[:300]
    return float(response.headers["server-timing"].split("dur=")[1])


def _summary(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"p50_ms": statistics.median(ordered), "p95_ms": ordered[int(0.95 * (len(ordered) - 1))], "n": len(ordered)}


def run(home: Path, requests: int = 40) -> dict:
    from urllib.parse import quote

    from starlette.testclient import TestClient

    from vcf_pipeline.explorer.app import make_app
    from vcf_pipeline.lib.search.hybrid import VariantSearch
    from vcf_pipeline.lib.settings import Settings
    from vcf_pipeline.lib.stores.variant_tables import VARIANTS

    settings = Settings.load(home)
    client = TestClient(make_app(settings))
    table = settings.variant_store().open_table(VARIANTS)
    rng = random.Random(5)
    sample = table.search().select(["variant_id", "gene_symbol", "rsid", "chrom", "pos"]).limit(20_000).to_arrow().to_pylist()
    picks = rng.sample(sample, requests)
    queries = []
    for i, row in enumerate(picks):
        kind = i % 4
        if kind == 0 and row["gene_symbol"]:
            queries.append(f"{row['gene_symbol']} pathogenic")
        elif kind == 1 and row["gene_symbol"]:
            queries.append(row["gene_symbol"])
        elif kind == 2 and row["rsid"]:
            queries.append(row["rsid"])
        else:
            queries.append(f"{row['chrom']}:{max(1, row['pos'] - 5000)}-{row['pos'] + 5000}")
    client.get("/?q=" + quote(queries[0]))
    client.get("/variant/" + quote(picks[0]["variant_id"]))
    search_ms = [_server_ms(client.get("/?q=" + quote(q))) for q in queries]
    variant_ms = [_server_ms(client.get("/variant/" + quote(r["variant_id"]))) for r in picks]
    search = VariantSearch(table, settings.embedder().encode)
    direct = []
    for q in queries:
        started = time.perf_counter()
        search.search(q, limit=26)
        direct.append((time.perf_counter() - started) * 1000)
    return {"rows": table.count_rows(), "search_page": _summary(search_ms), "variant_page": _summary(variant_ms),
            "search_direct": _summary(direct), "search_page_vs_direct": statistics.median(search_ms) / statistics.median(direct)}  # fmt: skip


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(Path(sys.argv[1])), indent=1))
