"""Relevance of search on the shared real annotated files: queries generated from the stored rows by a
seeded sampler, each answered in every mode, scored against the rows themselves.

Query kinds (what users of bcftools, GEMINI and TileDB-VCF type) and their measure:
- gene alone, gene + its most common consequence: precision@5 (share of the top 5, or of all the
  gene's variants when it has fewer, that are the gene's);
- rsID: hit@1 (the first row carries the rsID);
- gene + HGVS p. in three-letter and one-letter forms, HGVS c. alone and with its gene: hit@1 (the
  first row has that change, in that gene when one is named);
- region: exact (the rows returned are exactly those overlapping it, read from the stored rows);
- condition name: precision@5 (rows associated with that condition).

`python bench/search_relevance.py` prints the table and writes bench/results/relevance-*.json."""

from __future__ import annotations

import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED_VCF = HERE.parent.parent / "shared" / "data" / "vcf"
FILES = [
    SHARED_VCF / "bcftools__test__split-vep.vcf",  # VEP CSQ, GRCh37
    SHARED_VCF / "ensembl-vep__clinvar-testset__input.vcf.gz",  # ClinVar INFO, GRCh38
    SHARED_VCF / "snpeff__old__EML4-ALK_fusion.vcf",  # SnpEff ANN, structural variants
]
MODES = ("hybrid", "keyword", "semantic")
PER_KIND = 40


def _short(hgvs: str) -> str:
    return re.sub(r"^[^:]*:(?=[cgmnrp]\.)", "", hgvs).replace("(", "").replace(")", "")


def build_home(home: Path) -> None:
    from vcf_pipeline.instance.in_process_runs import ingest_paths

    if (home / "lancedb").exists():
        return
    summaries = ingest_paths(home, FILES)
    failed = [s for s in summaries if not s.ok]
    if failed:
        raise SystemExit(f"ingest failed: {failed}")


def sample_queries(rows: list[dict], seed: int = 7) -> list[dict]:
    """Queries of every kind with what answers them, drawn from the stored rows."""
    rng = random.Random(seed)
    by_gene: dict[str, list[dict]] = {}
    for row in rows:
        if row["gene_symbol"]:
            by_gene.setdefault(row["gene_symbol"], []).append(row)
    queries = []

    def draw(pool, n=PER_KIND):
        pool = sorted(pool, key=lambda x: json.dumps(x, sort_keys=True, default=str))
        return rng.sample(pool, min(n, len(pool)))

    for gene in draw(list(by_gene)):
        queries.append({"kind": "gene", "text": gene, "gene": gene})
        common = Counter(r["consequence"].split("&")[0] for r in by_gene[gene] if r["consequence"]).most_common(1)
        if common:
            queries.append({"kind": "gene + consequence", "text": f"{gene} {common[0][0].replace('_', ' ')}", "gene": gene})
    for row in draw([r for r in rows if r["rsid"]]):
        queries.append({"kind": "rsID", "text": row["rsid"], "rsid": row["rsid"]})
    from vcf_pipeline.lib.search.keywords import one_letter

    for row in draw([r for r in rows if r["gene_symbol"] and r["hgvs_p"] and "?" not in r["hgvs_p"]]):
        short = _short(row["hgvs_p"])
        queries.append({"kind": "gene + HGVS p. (3-letter)", "text": f"{row['gene_symbol']} {short}", "gene": row["gene_symbol"], "hgvs_p": short})
        queries.append({"kind": "gene + HGVS p. (1-letter)", "text": f"{row['gene_symbol']} {one_letter(short).removeprefix('p.')}", "gene": row["gene_symbol"], "hgvs_p": short})
    for row in draw([r for r in rows if r["hgvs_c"] and r["gene_symbol"]]):
        change = _short(row["hgvs_c"])
        queries.append({"kind": "HGVS c.", "text": change, "hgvs_c": change})
        queries.append({"kind": "gene + HGVS c.", "text": f"{row['gene_symbol']}:{change}", "gene": row["gene_symbol"], "hgvs_c": change})
    for row in draw(rows, PER_KIND // 2):
        width = rng.choice((1_000, 50_000, 1_000_000))
        start, end = max(1, row["pos"] - width), row["pos"] + width
        queries.append({"kind": "region", "text": f"{row['chrom']}:{start:,}-{end:,}", "region": (row["chrom"], start, end)})
    conditions = sorted({c for r in rows for c in (r["conditions"] or [])})
    for condition in draw(conditions):
        queries.append({"kind": "condition", "text": condition.replace("_", " "), "condition": condition})
    return queries


def score(query: dict, found: list[dict], rows: list[dict]) -> float:
    """The query kind's measure for these results (1.0 is perfect)."""
    kind = query["kind"]
    if kind in ("gene", "gene + consequence"):
        held = sum(1 for r in rows if r["gene_symbol"] == query["gene"])
        return sum(1 for r in found[:5] if r["gene_symbol"] == query["gene"]) / min(5, held)
    if kind == "condition":
        held = sum(1 for r in rows if query["condition"] in (r["conditions"] or []))
        return sum(1 for r in found[:5] if query["condition"] in (r["conditions"] or [])) / min(5, held)
    if kind == "region":
        chrom, start, end = query["region"]
        expected = {r["variant_id"] for r in rows if r["chrom"] == chrom and r["pos"] <= end and r["end"] >= start}
        return float({r["variant_id"] for r in found} == expected)
    if not found:
        return 0.0
    top = found[0]
    if kind == "rsID":
        return float(top["rsid"] == query["rsid"])
    if "gene" in query and top["gene_symbol"] != query["gene"]:
        return 0.0
    if "hgvs_p" in query:
        return float(bool(top["hgvs_p"]) and _short(top["hgvs_p"]) == query["hgvs_p"])
    return float(bool(top["hgvs_c"]) and _short(top["hgvs_c"]) == query["hgvs_c"])


def run(home: Path) -> dict:
    from vcf_pipeline.lib.search.hybrid import VariantSearch
    from vcf_pipeline.lib.settings import Settings
    from vcf_pipeline.lib.stores.variant_tables import VARIANTS

    build_home(home)
    settings = Settings.load(home)
    table = settings.variant_store().open_table(VARIANTS)
    columns = ["gene_symbol", "rsid", "hgvs_c", "hgvs_p", "consequence", "conditions", "chrom", "pos", "end"]
    rows = table.search().select(["variant_id", *columns]).limit(None).to_arrow().to_pylist()
    queries = sample_queries(rows)
    search = VariantSearch(table, settings.embedder().encode)
    out: dict = {"files": [f.name for f in FILES], "rows": len(rows), "queries": len(queries), "kinds": {}}
    for mode in MODES:
        per_kind: dict[str, list[float]] = {}
        latencies = []
        for query in queries:
            limit = 1000 if query["kind"] == "region" else 10
            started = time.perf_counter()
            found = search.search(query["text"], mode=mode, limit=limit, columns=columns).rows
            latencies.append((time.perf_counter() - started) * 1000)
            per_kind.setdefault(query["kind"], []).append(score(query, found, rows))
        for kind, scores in per_kind.items():
            out["kinds"].setdefault(kind, {"queries": len(scores)})[mode] = statistics.fmean(scores)
        out[f"{mode}_p50_ms"] = statistics.median(latencies)
    out["examples"] = {q["kind"]: q["text"] for q in queries}
    return out


TARGETS = {"gene": 0.95, "gene + consequence": 0.95, "rsID": 0.95, "gene + HGVS p. (3-letter)": 0.95, "gene + HGVS p. (1-letter)": 0.95, "region": 1.0}
MEASURE = {"gene": "precision@5", "gene + consequence": "precision@5", "condition": "precision@5", "region": "exact"}


def print_table(result: dict) -> None:
    print(f"{result['rows']:,} stored variants from {', '.join(result['files'])}; {result['queries']} queries")
    print(f"{'query kind':<28}{'measure':<13}{'n':>4}  " + "".join(f"{m:>10}" for m in MODES) + "   target")
    for kind, figures in result["kinds"].items():
        target = TARGETS.get(kind)
        verdict = "" if target is None else (f">= {target}  " + ("met" if figures["hybrid"] >= target else "MISSED"))
        print(f"{kind:<28}{MEASURE.get(kind, 'hit@1'):<13}{figures['queries']:>4}  " + "".join(f"{figures[m]:>10.2f}" for m in MODES) + f"   {verdict}")
    print("p50 ms per query (in process, " + ", ".join(f"{m} {result[m + '_p50_ms']:.1f}" for m in MODES) + ")")


def main() -> int:
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    result = run(HERE / "work" / "home_relevance")
    print_table(result)
    path = out / f"relevance-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    sys.exit(main())
