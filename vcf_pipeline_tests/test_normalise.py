"""Allele normalisation against `bcftools norm -m- -f` (shipped in pysam) as the oracle, on a FASTA
and VCFs the test writes: repeats that need left-shifting, multi-allelic indels, MNPs, position 1."""

from __future__ import annotations

import random
from collections import Counter

import pysam
import pysam.bcftools
import pytest

from vcf_pipeline.lib.vcf.normalise import Normaliser, trim
from vcf_pipeline_tests.files import repeats_and_indels

REPEATS = "ACGTTTTTTGCATCATCATGGGAAACCCTTTAAACCCTAAACCCTAAAGGGCCCAAATTTGGGCCCAAATTTGGGCCC"


def _write(tmp_path, sequence: str, records: list[tuple[int, str, str]]):
    fasta = tmp_path / "ref.fa"
    fasta.write_text(f">chr1\n{sequence}\n")
    lines = ["##fileformat=VCFv4.2", f"##contig=<ID=chr1,length={len(sequence)}>", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    lines += [f"chr1\t{pos}\t.\t{ref}\t{alts}\t.\t.\t." for pos, ref, alts in sorted(records)]
    vcf = tmp_path / "calls.vcf"
    vcf.write_text("\n".join(lines) + "\n")
    return fasta, vcf


def _bcftools(fasta, vcf) -> Counter:
    text = pysam.bcftools.norm("-m-", "-f", str(fasta), str(vcf))
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    return Counter((int(r[1]), r[3], r[4]) for r in rows)


def _ours(fasta, records) -> Counter:
    normaliser = Normaliser(fasta)
    found = Counter()
    for pos, ref, alts in records:
        for alt in alts.split(","):
            n = normaliser.normalise("chr1", pos, ref, alt)
            assert n.ref_matches
            found[(n.pos, n.ref, n.alt)] += 1
    return found


def test_written_cases_match_bcftools_norm(tmp_path):
    s = REPEATS
    at = lambda pos, n: s[pos - 1 : pos - 1 + n]  # noqa: E731
    records = [
        (4, at(4, 4), f"{at(4, 1)},{at(4, 4)}T"),  # multi-allelic: a deletion and an insertion in a T run
        (10, at(10, 1), at(10, 1) + "CAT"),  # insertion in a CAT repeat
        (11, at(11, 6), at(11, 3)),  # deletion of CAT from the repeat's end
        (1, at(1, 2), at(1, 1)),  # deletion at position 1
        (2, at(2, 1), "T"),  # SNV
        (20, at(20, 6), at(20, 2) + "C" + at(22, 2) + "T"),  # MNP with a shared prefix
        (30, at(30, 11), at(30, 3)),  # as split from a multi-allelic record: TTAAACCCTAA>TTA
    ]
    fasta, vcf = _write(tmp_path, s, records)
    assert _ours(fasta, records) == _bcftools(fasta, vcf)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_indels_and_mnps_in_repeats_match_bcftools_norm(tmp_path, seed):
    sequence, records = repeats_and_indels(random.Random(seed))
    fasta, vcf = _write(tmp_path, sequence, records)
    assert _ours(fasta, records) == _bcftools(fasta, vcf)


def test_without_a_reference_shared_ends_are_trimmed():
    assert trim(100, "TAAACCCTAAA", "TAA") == (100, "TAAACCCTA", "T")
    assert trim(100, "ACG", "ATG") == (101, "C", "T")
    assert trim(100, "A", "AT") == (100, "A", "AT")
    normaliser = Normaliser()
    assert normaliser.normalise("chr1", 5, "CTT", "CT").ref_matches is None
    for alt in ("<DEL>", "G]chr2:100]", "*"):
        assert (normaliser.normalise("chr1", 5, "G", alt).alt, normaliser.normalise("chr1", 5, "G", alt).pos) == (alt, 5)


def test_a_ref_that_disagrees_with_the_reference_is_reported(tmp_path):
    fasta, _ = _write(tmp_path, REPEATS, [])
    assert Normaliser(fasta).normalise("chr1", 1, "T", "G").ref_matches is False
    assert (tmp_path / "ref.fa.fai").exists()  # built when missing
