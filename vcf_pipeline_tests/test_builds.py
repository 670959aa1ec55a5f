"""Genome builds from the headers of the shared corpus: each file that states its build gets it,
with the evidence, and a header whose pieces disagree is a conflict."""

from __future__ import annotations

import pysam
import pytest

from vcf_pipeline.lib.vcf.builds import UNKNOWN, build_named, detect_build
from vcf_pipeline_tests.conftest import SHARED_VCF

# What each header says (read by hand from the files): the build, and a word of its evidence.
STATED = {
    "bcftools__test__many-alts.vcf": ("GRCh37", "1000Genomes-NCBI37"),
    "bcftools__test__split-vep.vcf": ("GRCh37", "length 249250621"),
    "cyvcf2__tests__test.vcf.gz": ("GRCh37", "human_g1k_v37_decoy"),
    "ensembl-vep__clinvar-testset__input.vcf.gz": ("GRCh38", "##reference=GRCh38"),
    "gatk__SVAnnotate__integration.vcf.gz": ("GRCh38", "length 248956422"),
    "gatk__SelectVariants__gvcfExample.g.vcf": ("GRCh38", "Homo_sapiens_assembly38"),
    "htsjdk__vcf43__all43Features.utf8.vcf": ("GRCh37", "assembly=b37"),
    "pysam__cbcf_data__example_vcf42_only_header.vcf": ("NCBI36", "NCBI36"),
    "pysam__cbcf_data__gnomad.vcf": ("GRCh37", "Homo_sapiens_assembly19"),
    "vcf2maf__tests__test_delly.vcf": ("GRCh37", "b37.fasta"),
    "vcfpy__vcfs_from_the_wild__gatk.vcf": ("GRCh37", "assembly=hg19"),
}


@pytest.mark.parametrize("name", sorted(STATED))
def test_files_that_state_their_build_get_it_with_the_evidence(name):
    build, words = STATED[name]
    with pysam.VariantFile(str(SHARED_VCF / name)) as vcf:
        call = detect_build(vcf.header)
    assert call.build == build and not call.conflict, call
    assert any(words in piece for piece in call.evidence), call.evidence


def test_a_header_without_evidence_is_unknown():
    with pysam.VariantFile(str(SHARED_VCF / "htslib__test__vcf44_1.vcf")) as vcf:  # contig 1 of length 1000
        assert detect_build(vcf.header).build == UNKNOWN


def test_conflicting_evidence_is_reported(tmp_path):
    path = tmp_path / "mixed.vcf"
    path.write_text("##fileformat=VCFv4.2\n##reference=GRCh38\n##contig=<ID=1,length=249250621>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
    with pysam.VariantFile(str(path)) as vcf:
        call = detect_build(vcf.header)
    assert call.conflict and call.build == "GRCh38"
    assert call.evidence == ["##reference=GRCh38 -> GRCh38", "contig 1 length 249250621 -> GRCh37"]


@pytest.mark.parametrize(
    ("text", "build"),
    [("hg38", "GRCh38"), ("/refs/hs37d5.fa", "GRCh37"), ("chm13v2.0", "CHM13"), ("T2T-CHM13", "CHM13"), ("b370", None), ("mm10", None)],
)
def test_reference_names(text, build):
    assert build_named(text) == build
