"""What cohort counts cost per ingested file, on the cohort file (20,000 records x 120 samples):
- at parse: `record_counts` over every record's genotypes (read beforehand, so only the counting is
  timed), against the whole parse of the same file (`parse_into`, the reference) in the same run;
- in the store: the store-wide recompute when a second file holds every variant of the first: the
  ownership rows of all its variants read and summed (`merged_annotations`, which the write runs for
  every shared variant), against the replace of that file's ownership rows (the write it rides on).
Median of 3 each."""

from __future__ import annotations

import shutil
import statistics
import time
from pathlib import Path


def _median_s(action, runs: int = 3) -> tuple[float, object]:
    result, times = None, []
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def run(work: Path, cohort: Path) -> dict:
    import pysam

    from vcf_pipeline.lib.stores.stored_rows import merged_annotations
    from vcf_pipeline.lib.stores.variant_store import VariantStore
    from vcf_pipeline.lib.stores.warehouse import (
        PartitionFiles,
        parse_into,
        stream_batches,
    )
    from vcf_pipeline.lib.vcf.annotation_merge import OWN
    from vcf_pipeline.lib.vcf.cohort_counts import record_counts

    folder = work / "cohort_counts"
    shutil.rmtree(folder, ignore_errors=True)
    files = PartitionFiles(folder / "warehouse", "bench/cohort.vcf.gz")
    parse_s, result = _median_s(lambda: parse_into(cohort, files))
    with pysam.VariantFile(str(cohort)) as vcf:
        records = [([s["GT"] for s in rec.samples.values()], list(range(1, len(rec.alts or ()) + 1))) for rec in vcf]
    count_s, _ = _median_s(lambda: [record_counts(gts, alleles) for gts, alleles in records])

    store = VariantStore(folder / "lancedb")
    annotations = lambda: stream_batches(files.variants, 50_000, columns=["variant_id", *OWN])  # noqa: E731
    no_calls = lambda: iter(())  # noqa: E731
    store.replace_partition("first", 2, annotations, no_calls)
    replace_s, _ = _median_s(lambda: store.replace_partition("second", 2, annotations, no_calls))
    ids = [i for b in stream_batches(files.variants, 50_000, columns=["variant_id"]) for i in b.column(0).to_pylist()]
    recompute_s, merged = _median_s(lambda: merged_annotations(store, ids))
    assert all(m["cohort_an"] is not None for m in merged.values())
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "records": len(records), "samples": len(result.stats.samples), "variants": len(ids),
        "parse_s": parse_s, "counting_s": count_s, "counting_share_of_parse": count_s / parse_s,
        "ownership_replace_s": replace_s, "store_recompute_s": recompute_s,
        "store_recompute_per_1k_variants_ms": recompute_s / len(ids) * 1e6,
        "recompute_vs_replace": recompute_s / replace_s,
    }  # fmt: skip


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(Path(sys.argv[1]), Path(sys.argv[2])), indent=1))
