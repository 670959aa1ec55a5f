"""`vcf-pipeline genotypes`: calls selected by genotype and quality, equal to what a pysam read of the
same shared multi-sample files computes."""

from __future__ import annotations

import json

import pysam
import pytest

from vcf_pipeline.cli.main import main
from vcf_pipeline_tests.conftest import SHARED_VCF, store_alleles, store_contig

FILES = ["cyvcf2__tests__test.vcf.gz", "vcfpy__vcfs_from_the_wild__gatk.vcf", "gatk__SelectVariants__gvcfExample.g.vcf"]
KEEP_ALL_UP_TO = 32  # the default: files of at most 32 samples keep hom-ref and no-call calls


def _first(value):
    return value[0] if isinstance(value, tuple) else value


def expected_calls(path, min_gq: int | None, zygosity: str | None) -> set[tuple]:
    """(sample, chrom, pos, ref, alt) of the calls of each ALT of the kind asked with GQ >= min_gq,
    read with pysam: carriers (zygosity None), one zygosity, or, in a file of few samples only,
    `hom_ref` (every called allele REF) and `no_call` (none called)."""
    found = set()
    with pysam.VariantFile(str(path)) as vcf:
        keep_all = len(vcf.header.samples) <= KEEP_ALL_UP_TO
        for rec in vcf:
            for i, alt in enumerate(rec.alts or ()):
                if alt in ("<NON_REF>", "<*>", ".", "*"):
                    continue
                key = (store_contig(rec.chrom), *store_alleles(rec.pos, rec.ref, alt))
                for name, sample in rec.samples.items():
                    gt = sample["GT"] if "GT" in rec.format else None
                    if not gt:
                        continue
                    called = [a for a in gt if a is not None]
                    if min_gq is not None and ("GQ" not in rec.format or _first(sample["GQ"]) is None or _first(sample["GQ"]) < min_gq):
                        continue
                    if (i + 1) in called:
                        kind = "hemizygous" if len(called) == 1 else "homozygous" if all(a == i + 1 for a in called) else "heterozygous"
                    elif keep_all and not called:
                        kind = "no_call"
                    elif keep_all and set(called) == {0}:
                        kind = "hom_ref"
                    else:
                        continue
                    if (zygosity is None and kind not in ("hom_ref", "no_call")) or kind == zygosity:
                        found.add((name, *key))
    return found


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize(
    ("gt", "zygosity", "min_gq"),
    [("carrier", None, 20), ("het", "heterozygous", 20), ("hom_alt", "homozygous", 20), ("hom_ref", "hom_ref", 20), ("no_call", "no_call", None)],
)
def test_genotype_selections_equal_a_pysam_read(shared_home, capsys, name, gt, zygosity, min_gq):
    home, summaries = shared_home
    key = summaries[name].partition_key
    quality = ["--min-gq", str(min_gq)] if min_gq is not None else []
    assert main(["genotypes", "--gt", gt, *quality, "--limit", "1000000", "--home", str(home), "--json"]) == 0
    rows = [r for r in json.loads(capsys.readouterr().out)["rows"] if r["file"] == key]
    got = {(r["sample"], r["chrom"], r["pos"], r["ref"], r["alt"]) for r in rows}
    expected = expected_calls(SHARED_VCF / name, min_gq, zygosity)
    assert got == expected
    assert all(r["gq"] >= min_gq for r in rows) if min_gq is not None else True
    if name == "vcfpy__vcfs_from_the_wild__gatk.vcf":  # 7 samples: every kind is there to find
        assert expected


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


def test_out_of_range_predicates_and_unknown_families_are_refused(shared_home, capsys):
    home, _ = shared_home
    for argv, words in ((["--min-ab", "2"], "between 0 and 1"), (["--family", "nobody"], "no family 'nobody'")):
        assert main(["genotypes", *argv, "--home", str(home)]) == 2
        assert words in capsys.readouterr().err
