"""The inheritance questions (`lib/samples/inheritance.py`) asked of the store: one family's calls
read from LanceDB `calls`, restricted to the variants a filter selects, answered as rows of the
variant's columns, the child (trio questions), a note and every member's genotype."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from vcf_pipeline.lib.samples import inheritance
from vcf_pipeline.lib.samples.pedigree import Person
from vcf_pipeline.lib.samples.questions import QUESTIONS
from vcf_pipeline.lib.search.selection import all_of, quoted
from vcf_pipeline.lib.stores.variant_tables import in_list, present

VARIANT_COLUMNS = ["variant_id", "chrom", "pos", "ref", "alt", "gene_symbol", "consequence", "impact", "clinical_significance",
                   "allele_frequency", "cohort_af"]  # fmt: skip
_CHUNK = 2_000


@dataclass
class FamilyAnswer:
    rows: pa.Table
    per_trio: list[dict]  # mendel-errors: sites checked and errors per trio


def ask_family(question: str, members: list[Person], variants_table, calls_table, variant_where: str | None,
               min_gq: int = inheritance.DEFAULT_MIN_GQ) -> FamilyAnswer:  # fmt: skip
    if question not in QUESTIONS:
        raise ValueError(f"unknown question {question!r} (one of {', '.join(QUESTIONS)})")
    calls = _family_calls(members, calls_table, variants_table, variant_where)
    ids = pc.unique(calls["variant_id"]).to_pylist() if calls.num_rows else []
    variants = _variant_rows(variants_table, ids)
    chrom_of = dict(zip(variants["variant_id"].to_pylist(), variants["chrom"].to_pylist()))
    family = inheritance.family_calls(members, calls, chrom_of, min_gq)
    per_trio: list[dict] = []
    if question == "de-novo":
        found = inheritance.de_novo(family)
    elif question == "autosomal-recessive":
        found = inheritance.autosomal_recessive(family)
    elif question == "autosomal-dominant":
        found = inheritance.autosomal_dominant(family)
    elif question == "x-linked":
        found = inheritance.x_linked_recessive(family)
    elif question == "compound-het":
        found = inheritance.compound_heterozygous(family, dict(zip(variants["variant_id"].to_pylist(), variants["gene_symbol"].to_pylist())))
    else:
        found, per_trio = inheritance.mendel_errors(family)
    return FamilyAnswer(_rows(found, family, variants), per_trio)


def _family_calls(members: list[Person], calls_table, variants_table, variant_where: str | None) -> pa.Table:
    columns = ["variant_id", "sample", "zygosity", "gq", "gt"]
    of_family = f"sample IN ({', '.join(quoted(p.name) for p in members)})"
    if variant_where is None:
        return calls_table.search().where(of_family).select(columns).limit(None).to_arrow()
    ids = variants_table.search().where(variant_where).select(["variant_id"]).limit(None).to_arrow()["variant_id"].to_pylist()
    parts = [
        calls_table.search().where(all_of(of_family, in_list("variant_id", ids[i : i + _CHUNK]))).select(columns).limit(None).to_arrow()
        for i in range(0, len(ids), _CHUNK)
    ]
    return pa.concat_tables(parts) if parts else calls_table.search().where("FALSE").select(columns).limit(None).to_arrow()


def _variant_rows(variants_table, ids: list[str]) -> pa.Table:
    columns = present(VARIANT_COLUMNS, variants_table.schema)
    parts = [
        variants_table.search().where(in_list("variant_id", ids[i : i + _CHUNK])).select(columns).limit(None).to_arrow()
        for i in range(0, len(ids), _CHUNK)
    ]
    return pa.concat_tables(parts) if parts else variants_table.search().where("FALSE").select(columns).limit(None).to_arrow()


def _rows(found: list[inheritance.Finding], family: inheritance.FamilyCalls, variants: pa.Table) -> pa.Table:
    at = pc.index_in(pa.array([f.variant_id for f in found], pa.string()), value_set=variants["variant_id"].combine_chunks())
    keep = pc.is_valid(at)
    found = [f for f, k in zip(found, keep.to_pylist()) if k]
    picked = variants.take(at.filter(keep))
    row_of = {v: i for i, v in enumerate(family.ids)}
    genotypes = [
        " ".join(f"{p.name}={family.genotypes[row_of[f.variant_id], j] or './.'}" for j, p in enumerate(family.members)) for f in found
    ]
    rows = picked.append_column("child", pa.array([f.child for f in found], pa.string()))
    rows = rows.append_column("note", pa.array([f.note for f in found], pa.string()))
    rows = rows.append_column("genotypes", pa.array(genotypes, pa.string()))
    return rows.sort_by([("chrom", "ascending"), ("pos", "ascending"), ("variant_id", "ascending"), ("child", "ascending")])
