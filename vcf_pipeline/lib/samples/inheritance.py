"""Inheritance questions asked of one family's calls, as GEMINI and Hail ask them: de novo,
autosomal recessive and dominant, compound heterozygous, X-linked recessive, Mendelian errors.

Only files that keep every call of their samples (`keep_all_calls_up_to`) can show a parent as
homozygous reference; a sample with no call row for a variant counts as not called. A call counts
only with GQ at or above `min_gq` (a file without GQ passes when `min_gq` is 0). Where a sample is
in several files, its carrier call wins over a reference call, which wins over a no-call.
- de novo: a child carries the ALT; both parents are called homozygous reference.
- autosomal recessive: every affected member is hom-alt; every unaffected one is called and is not;
  unaffected parents of an affected member are heterozygous.
- autosomal dominant: every affected member carries it; every unaffected one is hom-ref.
- compound heterozygous: an affected child is heterozygous for two or more variants of one gene, at
  least one from the father only (father het, mother hom-ref) and one from the mother only.
- X-linked recessive (chrX): affected males carry it, affected females are hom-alt, unaffected males
  are hom-ref, unaffected females are not hom-alt, and the unaffected mother of an affected male is
  heterozygous. The pseudo-autosomal regions are not set apart.
- Mendelian errors (autosomes, all three of a trio called): the child's genotype cannot come from
  the parents' (a de novo call is one), counted per trio as Hail's `mendel_errors` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vcf_pipeline.lib.samples.pedigree import MALE, Person, trios
from vcf_pipeline.lib.vcf.calls import (
    HEMIZYGOUS,
    HETEROZYGOUS,
    HOM_REF,
    HOMOZYGOUS,
    NO_CALL,
)

NOT_CALLED, REF, HET, HOM_ALT = -1, 0, 1, 2
_STATE = {HOM_REF: REF, HETEROZYGOUS: HET, HOMOZYGOUS: HOM_ALT, HEMIZYGOUS: HOM_ALT, NO_CALL: NOT_CALLED}
_PRECEDENCE = {NO_CALL: 0, HOM_REF: 1}  # carriers: 2, applied last so they win
DEFAULT_MIN_GQ = 20


@dataclass
class FamilyCalls:
    """One family's calls as matrices: a row per variant (`ids`, `chroms`), a column per member."""

    members: list[Person]
    ids: list[str]
    chroms: np.ndarray
    states: np.ndarray  # confident genotype state, NOT_CALLED where none (or GQ too low)
    genotypes: np.ndarray  # "0/1" etc. as the file wrote it, "" where none

    def column(self, name: str) -> int:
        return [p.name for p in self.members].index(name)


def family_calls(members: list[Person], calls: pa.Table, chrom_of: dict[str, str], min_gq: int = DEFAULT_MIN_GQ) -> FamilyCalls:
    """`calls` (variant_id, sample, zygosity, gq, gt) of the family's samples as FamilyCalls."""
    names = pa.array([p.name for p in members], pa.string())
    calls = calls.filter(pc.is_in(calls["sample"], value_set=names))
    ids = pc.unique(calls["variant_id"]).to_pylist() if calls.num_rows else []
    states = np.full((len(ids), len(members)), NOT_CALLED, np.int8)
    genotypes = np.full((len(ids), len(members)), "", object)
    if calls.num_rows:
        order = np.argsort([_PRECEDENCE.get(z, 2) for z in calls["zygosity"].to_pylist()], kind="stable")
        calls = calls.take(pa.array(order))
        rows = pc.index_in(calls["variant_id"], value_set=pa.array(ids, pa.string())).to_numpy()
        cols = pc.index_in(calls["sample"], value_set=names).to_numpy()
        state = np.array([_STATE.get(z, NOT_CALLED) for z in calls["zygosity"].to_pylist()], np.int8)
        gq = calls["gq"].to_numpy(zero_copy_only=False).astype(float)
        confident = (gq >= min_gq) | (np.isnan(gq) & (min_gq <= 0))
        # One call per (variant, member): the last in precedence order (numpy leaves the winner of
        # repeated indices in one assignment unspecified, so the others are dropped first).
        flat = rows.astype(np.int64) * len(members) + cols
        _, from_end = np.unique(flat[::-1], return_index=True)
        keep = len(flat) - 1 - from_end
        states[rows[keep], cols[keep]] = np.where(confident, state, NOT_CALLED)[keep]
        genotypes[rows[keep], cols[keep]] = np.array(calls["gt"].to_pylist(), object)[keep]
    chroms = np.array([chrom_of.get(i, "") for i in ids], object)
    return FamilyCalls(members, ids, chroms, states, genotypes)


def is_autosome(chrom: str) -> bool:
    return chrom.removeprefix("chr").isdigit()


def _autosomes(calls: FamilyCalls) -> np.ndarray:
    return np.array([is_autosome(c) for c in calls.chroms], bool)


def _x(calls: FamilyCalls) -> np.ndarray:
    return np.array([c.removeprefix("chr") == "X" for c in calls.chroms], bool)


def _all(calls: FamilyCalls, people: list[Person], test: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    hit = np.ones(len(calls.ids), bool)
    for person in people:
        hit &= test(calls.states[:, calls.column(person.name)])
    return hit


@dataclass(frozen=True)
class Finding:
    variant_id: str
    child: str | None = None  # for trio questions
    note: str = ""


def de_novo(calls: FamilyCalls) -> list[Finding]:
    found = []
    for child, father, mother in trios(calls.members):
        s = calls.states
        hit = np.isin(s[:, calls.column(child.name)], (HET, HOM_ALT)) & (s[:, calls.column(father.name)] == REF) & (s[:, calls.column(mother.name)] == REF)
        found += [Finding(calls.ids[i], child.name) for i in np.flatnonzero(hit)]
    return found


def autosomal_recessive(calls: FamilyCalls) -> list[Finding]:
    affected, unaffected = _split(calls.members)
    if not affected:
        return []
    hit = _autosomes(calls) & _all(calls, affected, lambda s: s == HOM_ALT) & _all(calls, unaffected, lambda s: np.isin(s, (REF, HET)))
    hit &= _all(calls, _unaffected_parents(calls.members, affected), lambda s: s == HET)
    return [Finding(calls.ids[i]) for i in np.flatnonzero(hit)]


def autosomal_dominant(calls: FamilyCalls) -> list[Finding]:
    affected, unaffected = _split(calls.members)
    if not affected:
        return []
    hit = _autosomes(calls) & _all(calls, affected, lambda s: np.isin(s, (HET, HOM_ALT))) & _all(calls, unaffected, lambda s: s == REF)
    return [Finding(calls.ids[i]) for i in np.flatnonzero(hit)]


def x_linked_recessive(calls: FamilyCalls) -> list[Finding]:
    affected, unaffected = _split(calls.members)
    if not affected:
        return []
    males = [p for p in calls.members if p.sex == MALE]
    hit = _x(calls)
    hit &= _all(calls, [p for p in affected if p in males], lambda s: np.isin(s, (HET, HOM_ALT)))
    hit &= _all(calls, [p for p in affected if p not in males], lambda s: s == HOM_ALT)
    hit &= _all(calls, [p for p in unaffected if p in males], lambda s: s == REF)
    hit &= _all(calls, [p for p in unaffected if p not in males], lambda s: np.isin(s, (REF, HET)))
    mothers = {p.mother for p in affected if p in males}
    hit &= _all(calls, [p for p in unaffected if p.name in mothers], lambda s: s == HET)
    return [Finding(calls.ids[i]) for i in np.flatnonzero(hit)]


def compound_heterozygous(calls: FamilyCalls, gene_of: dict[str, str]) -> list[Finding]:
    """The variants of each gene that make an affected child compound heterozygous; `note` says
    which parent each came from."""
    found = []
    genes = np.array([gene_of.get(i) or "" for i in calls.ids], object)
    for child, father, mother in trios(calls.members):
        if not child.affected:
            continue
        s = calls.states
        het = s[:, calls.column(child.name)] == HET
        f, m = s[:, calls.column(father.name)], s[:, calls.column(mother.name)]
        paternal, maternal = het & (f == HET) & (m == REF), het & (m == HET) & (f == REF)
        both = set(genes[paternal]) & set(genes[maternal]) - {""}
        for i in np.flatnonzero((paternal | maternal) & np.isin(genes, list(both))):
            found.append(Finding(calls.ids[i], child.name, "from father" if paternal[i] else "from mother"))
    return found


def mendel_errors(calls: FamilyCalls) -> tuple[list[Finding], list[dict]]:
    """The error sites, and per trio: sites checked (all three called, autosomal) and errors."""
    found, per_trio = [], []
    autosomes = _autosomes(calls)
    for child, father, mother in trios(calls.members):
        s = calls.states
        c, f, m = (s[:, calls.column(p.name)] for p in (child, father, mother))
        checked = autosomes & (c >= 0) & (f >= 0) & (m >= 0)
        error = checked & (
            ((c == REF) & ((f == HOM_ALT) | (m == HOM_ALT)))
            | ((c == HOM_ALT) & ((f == REF) | (m == REF)))
            | ((c == HET) & (((f == REF) & (m == REF)) | ((f == HOM_ALT) & (m == HOM_ALT))))
        )
        found += [Finding(calls.ids[i], child.name) for i in np.flatnonzero(error)]
        per_trio.append({"child": child.name, "father": father.name, "mother": mother.name, "sites_checked": int(checked.sum()), "errors": int(error.sum())})
    return found, per_trio


def _split(members: list[Person]) -> tuple[list[Person], list[Person]]:
    return [p for p in members if p.affected], [p for p in members if p.phenotype == "unaffected"]


def _unaffected_parents(members: list[Person], affected: list[Person]) -> list[Person]:
    names = {parent for p in affected for parent in (p.father, p.mother) if parent}
    return [p for p in members if p.name in names and p.phenotype == "unaffected"]
