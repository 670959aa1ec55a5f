"""Cohort counts: how many samples of a file were called, and with which genotype, per variant; and
the store-wide allele count, number and frequency summed over the files holding a variant.

Counts come from every sample's GT, so a sample not called (`./.`) is never taken for reference:
- `ac`: copies of this ALT; `an`: called alleles (a `./1` call adds one), as bcftools counts them;
- `n_called`: samples with at least one allele called, `n_no_call` the others;
- `n_het`: samples with this ALT and another allele; `n_hom_alt`: samples whose called alleles are
  all this ALT (a haploid or partly called `./1` call included); `n_hom_ref`: all REF. A sample with
  only another ALT of a multi-allelic site is called but in none of the three.
A sites-only file has no genotypes: its `an` is 0 and it adds nothing to the cohort figures (its
INFO AF stays in `allele_frequency`). A gVCF's reference blocks are not variants: their samples
count as called only at the records that have an ALT.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import pyarrow as pa

COUNTS = ("ac", "an", "n_called", "n_het", "n_hom_alt", "n_hom_ref", "n_no_call")
COUNT_FIELDS = [pa.field(name, pa.int32()) for name in COUNTS]
COHORT = ("cohort_ac", "cohort_an", "cohort_af")
COHORT_FIELDS = [pa.field("cohort_ac", pa.int64()), pa.field("cohort_an", pa.int64()), pa.field("cohort_af", pa.float64())]


def allele_frequency(ac: int | None, an: int | None) -> float | None:
    return round(ac / an, 6) if ac is not None and an else None


def record_counts(genotypes: Iterable[tuple | None], alleles: list[int]) -> list[tuple[int, ...]]:
    """COUNTS for each ALT allele number in `alleles` (1 for the first ALT), from every sample's GT
    tuple (None for a sample with no GT). A cohort has few distinct genotypes per record: each is
    classified once and counted with its multiplicity."""
    an = no_call = hom_ref = samples = 0
    ac = dict.fromkeys(alleles, 0)
    het = dict.fromkeys(alleles, 0)
    hom_alt = dict.fromkeys(alleles, 0)
    for gt, n in Counter(genotypes).items():
        samples += n
        called = [a for a in gt if a is not None] if gt else []
        if not called:
            no_call += n
            continue
        an += len(called) * n
        distinct = set(called)
        if distinct == {0}:
            hom_ref += n
            continue
        for allele in distinct.intersection(ac):
            ac[allele] += called.count(allele) * n
            if len(distinct) == 1:
                hom_alt[allele] += n
            else:
                het[allele] += n
    called_samples = samples - no_call
    return [(ac[a], an, called_samples, het[a], hom_alt[a], hom_ref, no_call) for a in alleles]


def cohort_of(rows: list[dict]) -> dict:
    """`cohort_ac`, `cohort_an`, `cohort_af` of a variant from its files' count rows; unknown (null)
    while any file holding it was stored before counts were kept."""
    if not rows or any(r.get("an") is None for r in rows):
        return dict.fromkeys(COHORT)
    ac, an = sum(r["ac"] for r in rows), sum(r["an"] for r in rows)
    return {"cohort_ac": ac, "cohort_an": an, "cohort_af": allele_frequency(ac, an)}
