"""`genotypes` for one gene over the cohort file (20,000 records x 120 samples): the calls of its
carriers with GQ >= 20, through `lib/query/genotypes.py` on the ingested store, against the same
question asked of the file: `bcftools query -r REGION` of every sample's GT and GQ (pysam's bundled
bcftools), the carriers counted from its output. Median of 5 each."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

GENE = ("BRCA1", "chr17:43044295-43125483")


def _median_ms(action, runs: int = 5) -> tuple[float, object]:
    result, times = None, []
    for _ in range(runs):
        started = time.perf_counter()
        result = action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def run(home: Path, cohort: Path) -> dict:
    import pysam.bcftools

    from vcf_pipeline.lib.query.genotypes import GenotypeFilter, select_genotypes
    from vcf_pipeline.lib.settings import Settings
    from vcf_pipeline.lib.stores.variant_tables import CALLS, VARIANTS

    store = Settings.load(home).variant_store()
    variants, calls = store.open_table(VARIANTS), store.open_table(CALLS)
    gene, region = GENE
    ours_ms, rows = _median_ms(lambda: select_genotypes(variants, calls, f"gene_symbol = '{gene}'", GenotypeFilter(min_gq=20)))
    query = ["-r", region, "-f", "[%POS %SAMPLE %GT %GQ\\n]", str(cohort)]

    def carriers() -> int:  # bcftools' -i applies per site, not per sample: the same question, counted here
        lines = (line.split() for line in pysam.bcftools.query(*query).splitlines())
        return sum(1 for _, _, gt, gq in lines if "1" in gt and gq != "." and int(gq) >= 20)

    bcftools_ms, counted = _median_ms(carriers)
    return {"gene": gene, "calls": rows.num_rows, "ours_ms": ours_ms, "bcftools_calls": counted,
            "bcftools_ms": bcftools_ms, "ours_vs_bcftools": bcftools_ms / ours_ms}  # fmt: skip


if __name__ == "__main__":
    import json
    import sys

    here = Path(__file__).resolve().parent
    print(json.dumps(run(Path(sys.argv[1]), Path(sys.argv[2])), indent=1))
