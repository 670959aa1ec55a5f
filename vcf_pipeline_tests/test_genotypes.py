"""`vcf-pipeline genotypes`: calls selected by genotype and quality, equal to what a pysam read of the
same shared multi-sample files computes."""

from __future__ import annotations

import json

import pysam
import pytest

from vcf_pipeline.cli.main import main
from vcf_pipeline_tests.conftest import SHARED_VCF, store_alleles, store_contig

FILES = ["cyvcf2__tests__test.vcf.gz", "vcfpy__vcfs_from_the_wild__gatk.vcf"]


def _first(value):
    return value[0] if isinstance(value, tuple) else value


def expected_calls(path, min_gq: int, zygosity: str | None) -> set[tuple]:
    """(sample, chrom, pos, ref, alt) of the calls holding each ALT with GQ >= min_gq, read with pysam."""
    found = set()
    with pysam.VariantFile(str(path)) as vcf:
        for rec in vcf:
            for i, alt in enumerate(rec.alts or ()):
                if alt in ("<NON_REF>", "<*>", ".", "*"):
                    continue
                key = (store_contig(rec.chrom), *store_alleles(rec.pos, rec.ref, alt))
                for name, sample in rec.samples.items():
                    gt = sample["GT"] if "GT" in rec.format else None
                    called = [a for a in (gt or ()) if a is not None]
                    if (i + 1) not in called or "GQ" not in rec.format or _first(sample["GQ"]) is None or _first(sample["GQ"]) < min_gq:
                        continue
                    kind = "hemizygous" if len(called) == 1 else "homozygous" if all(a == i + 1 for a in called) else "heterozygous"
                    if zygosity is None or kind == zygosity:
                        found.add((name, *key))
    return found


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize(("gt", "zygosity"), [("carrier", None), ("het", "heterozygous"), ("hom_alt", "homozygous")])
def test_genotype_selections_equal_a_pysam_read(shared_home, capsys, name, gt, zygosity):
    home, summaries = shared_home
    key = summaries[name].partition_key
    assert main(["genotypes", "--gt", gt, "--min-gq", "20", "--limit", "1000000", "--home", str(home), "--json"]) == 0
    rows = [r for r in json.loads(capsys.readouterr().out)["rows"] if r["file"] == key]
    got = {(r["sample"], r["chrom"], r["pos"], r["ref"], r["alt"]) for r in rows}
    expected = expected_calls(SHARED_VCF / name, 20, zygosity)
    assert got == expected and (expected or gt == "hom_alt")
    assert all(r["gq"] >= 20 for r in rows)


def test_samples_depth_and_allele_balance_narrow_the_calls(shared_home, capsys):
    home, summaries = shared_home
    key = summaries[FILES[0]].partition_key
    assert main(["genotypes", "--limit", "1000000", "--home", str(home), "--json"]) == 0
    every = [r for r in json.loads(capsys.readouterr().out)["rows"] if r["file"] == key]
    sample = every[0]["sample"]
    assert main(["genotypes", "--samples", sample, "--min-dp", "10", "--min-ab", "0.3", "--max-ab", "0.7", "--limit", "1000000",
                 "--home", str(home), "--json"]) == 0  # fmt: skip
    narrowed = [r for r in json.loads(capsys.readouterr().out)["rows"] if r["file"] == key]
    expected = [r for r in every if r["sample"] == sample and (r["dp"] or 0) >= 10 and r["allele_balance"] is not None and 0.3 <= r["allele_balance"] <= 0.7]
    assert narrowed == expected


def test_questions_the_store_cannot_answer_are_refused(shared_home, capsys):
    home, _ = shared_home
    for argv, words in ((["--gt", "hom_ref"], "carriers only"), (["--gt", "no_call"], "carriers only"), (["--min-ab", "2"], "between 0 and 1")):
        assert main(["genotypes", *argv, "--home", str(home)]) == 2
        assert words in capsys.readouterr().err
