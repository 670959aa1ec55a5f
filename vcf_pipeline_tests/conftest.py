"""Fixtures: the shared public VCFs (read in place), and homes ingested once per session.

The session homes are read-only: a test that writes works on `copy_home(...)` of one."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pysam
import pytest

# The tests make their own homes: nothing from the shell that started them (a home, a model, an S3
# target) leaks in.
for _name in [n for n in os.environ if n == "DAGSTER_HOME" or (n.startswith("VCF_PIPELINE_") and n != "VCF_PIPELINE_SHARED_VCF")]:
    del os.environ[_name]

REPO = Path(__file__).resolve().parent.parent
SHARED_VCF = Path(os.environ.get("VCF_PIPELINE_SHARED_VCF", REPO.parent / "shared" / "data" / "vcf"))
SAMPLES = REPO / "data" / "samples"

# Files in ../shared/data/vcf that pysam cannot read (see its SOURCES.md), with words our error must use.
MALFORMED = {
    "cyvcf2__tests__empty.vcf": "empty",
    "htsjdk__variant__corrupt_file_that_starts_with_#.vcf": "##fileformat",
    "snpeff__examples__test.ann.vcf": "##fileformat",
    "pysam__tabix_data__issue85.vcf": "#CHROM",
    "htsjdk__variant__dbsnp_135.b37.1000.vcf": "#CHROM",
    "phase_mnv_rs__fixtures__truncated.vcf.gz": "truncated",
    "vcfpy__vcfs_from_the_wild__issue-16.vcf": "9 tab-separated columns, the #CHROM line has 12",
    "htslib__test__noroundtrip.vcf": "record 1: FORMAT 'GT:GT' names a key twice",
    "hts-specs__4.3-failed__failed_body_format_000.vcf": "record 2 (after 1:55388): a blank line among the records",
}


# The genome build of each readable shared file, read by hand from its header, with the words of the
# evidence that decided it; files with none of that are stored under `unknown`.
SHARED_BUILDS = {
    "bcftools__test__many-alts.vcf": ("GRCh37", "1000Genomes-NCBI37.fasta"),
    "bcftools__test__split-vep.vcf": ("GRCh37", "contig 1 length 249250621"),
    "bio2zarr__vcf__1kg_2020_chr20_annotations.bcf": ("GRCh38", "GRCh38_full_analysis_set_plus_decoy_hla.fa"),
    "cyvcf2__tests__test.vcf.gz": ("GRCh37", "assembly=b37"),
    "ensembl-vep__clinvar-testset__input.vcf.gz": ("GRCh38", "##reference=GRCh38"),
    "gatk__SVAnnotate__integration.vcf.gz": ("GRCh38", "contig chr1 length 248956422"),
    "gatk__SelectVariants__gvcfExample.g.vcf": ("GRCh38", "assembly=Homo_sapiens_assembly38.fasta"),
    "hts-specs__4.3-failed__failed_body_info_integer_overflow.vcf": ("unknown", None),
    "htsjdk__vcf43__all43Features.utf8.vcf": ("GRCh37", "assembly=b37"),
    "htslib__test__vcf44_1.vcf": ("unknown", None),  # ##reference=file://test names no build
    "pysam__cbcf_data__example_vcf42_only_header.vcf": ("NCBI36", "1000GenomesPilot-NCBI36"),
    "pysam__cbcf_data__gnomad.vcf": ("GRCh37", "Homo_sapiens_assembly19.fasta"),
    "snpeff__old__EML4-ALK_fusion.vcf": ("unknown", None),
    "snpeff__vcf__long.vcf.gz": ("unknown", None),
    "vcf2maf__tests__test_delly.vcf": ("GRCh37", "b37/b37.fasta"),
    "vcflib__samples__grch38#chr8_36353854-36453166.vcf": ("unknown", None),  # a pangenome contig, `grch38#chr8`
    "vcfpy__vcfs_from_the_wild__gatk.vcf": ("GRCh37", "assembly=hg19"),
}
_UCSC = {**{str(n): f"chr{n}" for n in range(1, 23)}, "X": "chrX", "Y": "chrY", "M": "chrM", "MT": "chrM"}


def store_contig(name: str) -> str:
    """The UCSC spelling the store uses, for the contig names of the shared files."""
    return _UCSC.get(name.removeprefix("chr"), name)


def store_alleles(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """`bcftools norm`'s trim (shared suffix, then shared prefix; one base kept), for sequence alleles."""
    if not (re.fullmatch("[ACGTNacgtn]+", ref) and re.fullmatch("[ACGTNacgtn]+", alt)):
        return pos, ref, alt
    ref, alt = ref.upper(), alt.upper()
    suffix = min(len(os.path.commonprefix([ref[::-1], alt[::-1]])), len(ref) - 1, len(alt) - 1)
    ref, alt = ref[: len(ref) - suffix], alt[: len(alt) - suffix]
    prefix = min(len(os.path.commonprefix([ref, alt])), len(ref) - 1, len(alt) - 1)
    return pos + prefix, ref[prefix:], alt[prefix:]


def shared_vcf_files() -> list[Path]:
    if not SHARED_VCF.is_dir():
        pytest.fail(f"the shared VCF corpus is missing: expected {SHARED_VCF} (../shared beside the repo)")
    return sorted(p for p in SHARED_VCF.iterdir() if p.name.endswith((".vcf", ".vcf.gz", ".bcf")))


def readable_shared_files() -> list[Path]:
    return [p for p in shared_vcf_files() if p.name not in MALFORMED]


def expected_from_pysam(path: Path) -> tuple[set[tuple], set[tuple]]:
    """Independent oracle: distinct (chrom, pos, ref, alt) after splitting ALTs, dropping reference
    blocks, spelling contigs the UCSC way and trimming alleles, and the (sample, chrom, pos, ref, alt)
    of every genotype holding that ALT."""
    variants, genotypes = expected_genotypes(path, keep_all_up_to=-1)
    return variants, {g[:-1] for g in genotypes}


def expected_genotypes(path: Path, keep_all_up_to: int = 32) -> tuple[set[tuple], set[tuple]]:
    """The oracle above with each call's state: (sample, chrom, pos, ref, alt, state), state
    `carrier`, or (in a file of at most `keep_all_up_to` samples) `hom_ref` (every called allele
    REF) or `no_call` (none called). Where records repeat a variant, a sample's first call stands,
    unless a later one is a carrier's and the first was not."""
    variants, calls, held = set(), set(), {}
    opened = str(path)
    if path.name == "snpeff__vcf__long.vcf.gz":  # plain gzip: pysam reads the decompressed text
        import gzip
        import tempfile

        tmp = tempfile.NamedTemporaryFile(suffix=".vcf", delete=False)
        tmp.write(gzip.open(path).read())
        tmp.close()
        opened = tmp.name
    with pysam.VariantFile(opened) as vcf:
        keep_all = len(vcf.header.samples) <= keep_all_up_to
        for rec in vcf:
            for i, alt in enumerate(rec.alts or ()):
                if alt in ("<NON_REF>", "<*>", ".", "*"):
                    continue
                key = (store_contig(rec.chrom), *store_alleles(rec.pos, rec.ref, alt))
                variants.add(key)
                for name, sample in rec.samples.items():
                    gt = sample["GT"] if "GT" in rec.format else None
                    if not gt or held.get((name, key)) == "carrier":
                        continue
                    called = [a for a in gt if a is not None]
                    state = (
                        "carrier" if (i + 1) in gt
                        else "no_call" if keep_all and not called
                        else "hom_ref" if keep_all and set(called) == {0}
                        else None
                    )  # fmt: skip
                    if state and ((name, key) not in held or state == "carrier"):
                        calls.discard((name, *key, held.get((name, key))))
                        calls.add((name, *key, state))
                        held[(name, key)] = state
    return variants, calls


def copy_home(home: Path, to: Path) -> Path:
    """A copy of an ingested home (stores, warehouse, Dagster instance) that a test may change."""
    import shutil

    shutil.copytree(home, to)
    return to


@pytest.fixture(scope="session")
def shared_home(tmp_path_factory):
    """A home into which the whole shared corpus was ingested through Dagster, with the summaries."""
    from vcf_pipeline.instance.in_process_runs import ingest_paths

    home = tmp_path_factory.mktemp("shared_home")
    summaries = ingest_paths(home, [SHARED_VCF])
    return home, {s.path.name: s for s in summaries}


@pytest.fixture(scope="session")
def samples_home(tmp_path_factory):
    """A home holding the bundled sample data, ingested one file at a time."""
    from vcf_pipeline.instance.in_process_runs import ingest_paths

    home = tmp_path_factory.mktemp("samples_home")
    summaries = [ingest_paths(home, [SAMPLES / name])[0] for name in ("clinvar_sites.vcf", "family_trio.vcf", "tumor_normal_panel.vcf.gz")]
    return home, {s.path.name: s for s in summaries}
