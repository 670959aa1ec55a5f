"""Fixtures: the shared public VCFs (read in place), and homes ingested once per session.

The session homes are read-only: a test that writes works on `copy_home(...)` of one."""

from __future__ import annotations

import os
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


def shared_vcf_files() -> list[Path]:
    if not SHARED_VCF.is_dir():
        pytest.fail(f"the shared VCF corpus is missing: expected {SHARED_VCF} (../shared beside the repo)")
    return sorted(p for p in SHARED_VCF.iterdir() if p.name.endswith((".vcf", ".vcf.gz", ".bcf")))


def readable_shared_files() -> list[Path]:
    return [p for p in shared_vcf_files() if p.name not in MALFORMED]


def expected_from_pysam(path: Path) -> tuple[set[tuple], set[tuple]]:
    """Independent oracle: distinct (chrom, pos, ref, alt) after splitting ALTs and dropping reference
    blocks, and the (sample, chrom, pos, ref, alt) of every genotype holding that ALT."""
    variants, calls = set(), set()
    opened = str(path)
    if path.name == "snpeff__vcf__long.vcf.gz":  # plain gzip: pysam reads the decompressed text
        import gzip
        import tempfile

        tmp = tempfile.NamedTemporaryFile(suffix=".vcf", delete=False)
        tmp.write(gzip.open(path).read())
        tmp.close()
        opened = tmp.name
    with pysam.VariantFile(opened) as vcf:
        for rec in vcf:
            for i, alt in enumerate(rec.alts or ()):
                if alt in ("<NON_REF>", "<*>", ".", "*"):
                    continue
                key = (rec.chrom, rec.pos, rec.ref, alt)
                variants.add(key)
                for name, sample in rec.samples.items():
                    if "GT" in rec.format and sample["GT"] and (i + 1) in sample["GT"]:
                        calls.add((name, *key))
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
