"""A file's QUAL and allele-frequency histograms, counted by array, against the rule value by value."""

import math
import random

import pyarrow as pa
import pysam

from vcf_pipeline.lib.query.file_summary import AF_EDGES, _af_bins, _qual_bins
from vcf_pipeline_tests.conftest import SHARED_VCF


def qual_bins_one_by_one(values, bins=10):
    known = [v for v in values if v is not None and math.isfinite(v)]
    missing = len(values) - len(known)
    if not known:
        return [("no QUAL", missing)] if missing else []
    low, high = min(known), max(known)
    width = (high - low) / bins or 1.0
    counts = [0] * bins
    for v in known:
        counts[min(int((v - low) / width), bins - 1)] += 1
    return [(f"{low + i * width:.0f}-{low + (i + 1) * width:.0f}", n) for i, n in enumerate(counts)] + ([("no QUAL", missing)] if missing else [])


def af_bins_one_by_one(values):
    counts, missing = [0] * (len(AF_EDGES) - 1), 0
    for v in values:
        if v is None or not math.isfinite(v):
            missing += 1
            continue
        bin_ = next((i for i in range(len(counts)) if v <= AF_EDGES[i + 1]), len(counts) - 1)
        counts[bin_] += 1
    return [(f"<={AF_EDGES[i + 1]:g}", n) for i, n in enumerate(counts)] + ([("no AF", missing)] if missing else [])


def real_values():
    """QUAL and the first INFO/AF of every record of a few shared VCFs, as pysam reads them."""
    quals, afs = [], []
    for name in ("pysam__cbcf_data__gnomad.vcf", "vcfpy__vcfs_from_the_wild__gatk.vcf", "cyvcf2__tests__test.vcf.gz", "ensembl-vep__clinvar-testset__input.vcf.gz", "htslib__test__vcf44_1.vcf"):
        with pysam.VariantFile(str(SHARED_VCF / name)) as vcf:
            for record in vcf:
                quals.append(record.qual)
                af = record.info.get("AF") if "AF" in record.header.info else None
                afs.append(af[0] if isinstance(af, tuple) else af)
    return quals, afs


def test_histograms_counted_by_array_follow_the_rule_value_by_value():
    rng = random.Random(7)
    edges = [*AF_EDGES, -0.5, 1.5, 0.0, math.nan, math.inf, -math.inf, None]
    quals, afs = real_values()
    assert sum(q is not None for q in quals) > 100 and sum(a is not None for a in afs) > 100
    cases = [
        (quals, afs),
        ([rng.choice([None, math.nan, math.inf, rng.uniform(0, 5000), 30.0]) for _ in range(3000)],
         [rng.choice(edges) if rng.random() < 0.5 else rng.random() ** 4 for _ in range(3000)]),
        ([12.5] * 5, [None] * 5),  # one QUAL value: bins of width 1
        ([None, math.nan], [math.inf]),  # nothing known
        ([], []),
    ]
    for qual, af in cases:
        assert _qual_bins(pa.chunked_array([pa.array(qual, pa.float64())])) == qual_bins_one_by_one(qual)
        assert _af_bins(pa.chunked_array([pa.array(af, pa.float64())])) == af_bins_one_by_one(af)
    # A float32 column, as a file's QUAL is stored, counts as its values read one by one.
    as_stored = pa.chunked_array([pa.array(quals, pa.float32())])
    assert _qual_bins(as_stored) == qual_bins_one_by_one(as_stored.to_pylist())
