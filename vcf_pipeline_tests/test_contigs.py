"""Contig spellings: the shared corpus writes `1` and `chr1` for the same chromosome."""

from __future__ import annotations

import pysam
import pytest

from vcf_pipeline.lib.vcf.contigs import canonical_contig
from vcf_pipeline_tests.conftest import SHARED_VCF


@pytest.mark.parametrize(
    ("written", "stored"),
    [("1", "chr1"), ("chr1", "chr1"), ("CHR22", "chr22"), ("X", "chrX"), ("chrY", "chrY"), ("MT", "chrM"), ("chrMT", "chrM"),
     ("M", "chrM"), ("NC_000001.11", "chr1"), ("NC_000023.10", "chrX"), ("NC_012920.1", "chrM"), ("GL000207.1", "GL000207.1"),
     ("chr1_KI270706v1_random", "chr1_KI270706v1_random"), ("23", "23"), ("HLA-A*01:01:01:01", "HLA-A*01:01:01:01")],
)
def test_spellings(written, stored):
    assert canonical_contig(written) == stored


def test_ensembl_and_ucsc_spelled_files_meet_on_one_spelling():
    def contigs(name):
        with pysam.VariantFile(str(SHARED_VCF / name)) as vcf:
            return {canonical_contig(c) for c in vcf.header.contigs}

    ensembl, ucsc = contigs("cyvcf2__tests__test.vcf.gz"), contigs("vcfpy__vcfs_from_the_wild__gatk.vcf")
    assert {f"chr{n}" for n in range(1, 23)} | {"chrX"} <= ensembl & ucsc
