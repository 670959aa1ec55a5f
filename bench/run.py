"""Parse and embed rates on a generated annotated VCF, next to reference runs in the same process.

    python bench/run.py [--records 100000] [--embed-texts 2000] [--out bench/results]

Parse: our streaming parser (pysam -> Arrow, split ALTs, annotations, calls) vs `bcftools query`
(when installed) and a bare pysam loop over the same file. Embed: our path (describe, hash, cache
lookup, encode, Parquet) vs a bare `model.encode` of the same texts with the same model and batch size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vcf_pipeline.lib.describe import describe_variant
from vcf_pipeline.lib.embed import Embedder, embed_variant_file
from vcf_pipeline.lib.synthetic import variant_universe, write_vcf
from vcf_pipeline.lib.vcf import VcfReader

HERE = Path(__file__).resolve().parent


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def parse_ours(path: Path) -> tuple[int, int]:
    with VcfReader(path) as reader:
        rows = sum(b.variants.num_rows for b in reader.batches())
    return reader.stats.records, rows


def parse_bare_pysam(path: Path) -> int:
    import pysam

    n = 0
    with pysam.VariantFile(str(path)) as vcf:
        for rec in vcf:
            _ = (rec.chrom, rec.pos, rec.ref, rec.alts, rec.info.get("CSQ"))
            n += 1
    return n


def parse_bcftools(path: Path) -> int | None:
    if not shutil.which("bcftools"):
        return None
    out = subprocess.run(
        ["bcftools", "query", "-f", "%CHROM\t%POS\t%REF\t%ALT\t%INFO/CSQ\n", str(path)], capture_output=True, check=True
    ).stdout
    return out.count(b"\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=2, help="genotyped samples in the generated file")
    parser.add_argument("--embed-texts", type=int, default=2_000, help="texts embedded (the model runs ~100-300 texts/s on 2 cores)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()

    work = HERE / "work"
    work.mkdir(exist_ok=True)
    vcf = work / f"synthetic_{args.records}.vcf.gz"
    if not vcf.exists():
        print(f"generating {vcf} ...", flush=True)
        write_vcf(vcf, variant_universe(args.records, seed=42), [f"S{i}" for i in range(args.samples)], seed=42)

    results: dict = {"records": args.records, "samples": args.samples, "file_bytes": vcf.stat().st_size}
    (records, variants), t = timed(lambda: parse_ours(vcf))
    results["parse_ours"] = {"records": records, "variants": variants, "seconds": t, "records_per_s": records / t}
    n, t = timed(lambda: parse_bare_pysam(vcf))
    results["parse_bare_pysam"] = {"records": n, "seconds": t, "records_per_s": n / t}
    n, t = timed(lambda: parse_bcftools(vcf))
    results["parse_bcftools_query"] = {"records": n, "seconds": t, "records_per_s": n / t} if n else None

    # Embedding: the first N variants of the file, through our path and through a bare encode.
    subset = work / "embed_subset.parquet"
    with VcfReader(vcf, batch_records=args.embed_texts) as reader:
        pq.write_table(pa.Table.from_batches([next(reader.batches()).variants]), subset)
    embedder = Embedder()
    embedder.encode(["warm-up"])  # load the model outside the timings
    stats, t = timed(lambda: embed_variant_file(subset, work / "embed_out.parquet", embedder, lambda hashes: {}))
    results["embed_ours"] = {"variants": stats.variants, "texts_encoded": stats.embedded, "seconds": t, "variants_per_s": stats.variants / t}
    texts = [describe_variant(r) for r in pq.read_table(subset).to_pylist()]
    unique_texts = list(dict.fromkeys(texts))
    _, t = timed(lambda: embedder._st().encode(unique_texts, batch_size=embedder.batch_size, normalize_embeddings=True))
    results["embed_bare_encode"] = {"texts": len(unique_texts), "seconds": t, "texts_per_s": len(unique_texts) / t}
    vectors = pq.read_table(work / "embed_out.parquet", columns=["embedding"]).column(0)
    cache = dict(zip(pq.read_table(work / "embed_out.parquet", columns=["text_hash"]).column(0).to_pylist(), vectors.to_numpy(zero_copy_only=False)))
    stats, t = timed(lambda: embed_variant_file(subset, work / "embed_cached.parquet", embedder, lambda hashes: {h: cache[h] for h in hashes}))
    results["embed_all_cached"] = {"variants": stats.variants, "texts_encoded": stats.embedded, "seconds": t, "variants_per_s": stats.variants / t}
    results["mean_text_chars"] = sum(map(len, texts)) / len(texts)
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    ours, bare = results["parse_ours"]["records_per_s"], results["parse_bare_pysam"]["records_per_s"]
    bcf = results["parse_bcftools_query"]
    results["ratios"] = {
        "parse_ours_vs_bare_pysam": ours / bare,
        "parse_ours_vs_bcftools": ours / bcf["records_per_s"] if bcf else None,
        "embed_ours_texts_vs_bare_encode": (results["embed_ours"]["texts_encoded"] / results["embed_ours"]["seconds"]) / results["embed_bare_encode"]["texts_per_s"],
    }
    results["machine"] = {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count()}

    rows = [
        ("parse: ours (pysam -> Arrow, split, annotations)", f"{ours:,.0f} records/s"),
        ("parse: bare pysam loop", f"{bare:,.0f} records/s"),
        ("parse: bcftools query", f"{bcf['records_per_s']:,.0f} records/s" if bcf else "not installed"),
        ("embed: ours (describe+hash+lookup+encode+write)", f"{results['embed_ours']['variants_per_s']:,.1f} variants/s ({results['embed_ours']['texts_encoded']} texts)"),
        ("embed: bare model.encode, same texts", f"{results['embed_bare_encode']['texts_per_s']:,.1f} texts/s"),
        ("embed: ours, every text already stored", f"{results['embed_all_cached']['variants_per_s']:,.0f} variants/s"),
        ("ratio parse ours / bare pysam", f"{results['ratios']['parse_ours_vs_bare_pysam']:.2f}"),
        ("ratio parse ours / bcftools", f"{results['ratios']['parse_ours_vs_bcftools']:.2f}" if bcf else "-"),
        ("ratio embed ours / bare encode (texts/s)", f"{results['ratios']['embed_ours_texts_vs_bare_encode']:.2f}"),
        ("peak RSS", f"{results['peak_rss_mb']:,.0f} MB"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"\n{args.records:,} records, {args.samples} samples, mean text {results['mean_text_chars']:.0f} chars")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"bench-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
