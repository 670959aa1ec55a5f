"""Parse rate: our parser (pysam -> Arrow: split ALTs, annotations, calls) against `bcftools query`
printing the same fields, and a bare pysam loop, on the same file in the same run."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from vcf_pipeline.lib.vcf.reader import VcfReader


def ours(path: Path) -> dict:
    started = time.perf_counter()
    with VcfReader(path) as reader:
        rows = sum(b.variants.num_rows for b in reader.batches())
    seconds = time.perf_counter() - started
    return {"records": reader.stats.records, "variants": rows, "calls": reader.stats.calls, "seconds": seconds,
            "records_per_s": reader.stats.records / seconds}


def bare_pysam(path: Path) -> dict:
    import pysam

    started, n = time.perf_counter(), 0
    with pysam.VariantFile(str(path)) as vcf:
        for rec in vcf:
            _ = (rec.chrom, rec.pos, rec.ref, rec.alts, rec.info.get("CSQ"))
            n += 1
    seconds = time.perf_counter() - started
    return {"records": n, "seconds": seconds, "records_per_s": n / seconds}


def bcftools(path: Path, samples: bool) -> dict | None:
    if not shutil.which("bcftools"):
        return None
    fields = "%CHROM\t%POS\t%ID\t%REF\t%ALT\t%QUAL\t%FILTER\t%INFO/CSQ\t%INFO/CLNSIG\t%INFO/CLNDN\t%INFO/AF"
    fmt = fields + ("[\t%GT:%AD:%DP:%GQ]" if samples else "") + "\n"
    started = time.perf_counter()
    proc = subprocess.Popen(["bcftools", "query", "-f", fmt, str(path)], stdout=subprocess.PIPE)
    n = sum(chunk.count(b"\n") for chunk in iter(lambda: proc.stdout.read(1 << 20), b""))
    proc.wait()
    seconds = time.perf_counter() - started
    return {"records": n, "seconds": seconds, "records_per_s": n / seconds}


def run(path: Path, samples: bool = False) -> dict:
    result = {"file": path.name, "ours": ours(path), "bare_pysam": bare_pysam(path), "bcftools_query": bcftools(path, samples)}
    reference = result["bcftools_query"]
    result["ours_vs_bcftools"] = result["ours"]["records_per_s"] / reference["records_per_s"] if reference else None
    result["ours_vs_bare_pysam"] = result["ours"]["records_per_s"] / result["bare_pysam"]["records_per_s"]
    return result
