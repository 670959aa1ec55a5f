"""Calls selected by variant (filter, region, genes), sample and genotype predicates, one row per
(variant, sample, file): what `vcf-pipeline genotypes` prints and exports.

Carriers' calls are kept for every file; hom-ref and no-call calls only for files of few samples
(`keep_all_calls_up_to`, see `lib/vcf/calls.py`): `--gt hom_ref` and `--gt no_call` list those
files' samples, and larger cohorts only count theirs (`file_variants`, `cohort_*`)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from vcf_pipeline.lib.search.selection import all_of, quoted
from vcf_pipeline.lib.stores.variant_tables import in_list
from vcf_pipeline.lib.vcf.calls import (
    CARRIER_ZYGOSITIES,
    HEMIZYGOUS,
    HETEROZYGOUS,
    HOM_REF,
    HOMOZYGOUS,
    NO_CALL,
)

ZYGOSITY = {"het": (HETEROZYGOUS,), "hom_alt": (HOMOZYGOUS,), "hemizygous": (HEMIZYGOUS,), "carrier": CARRIER_ZYGOSITIES,
            "hom_ref": (HOM_REF,), "no_call": (NO_CALL,)}  # fmt: skip
GT_CLASSES = tuple(ZYGOSITY)
ONLY_SMALL_FILES = ("hom_ref", "no_call")
VARIANT_COLUMNS = ["variant_id", "chrom", "pos", "ref", "alt", "gene_symbol", "consequence", "clinical_significance"]
CALL_COLUMNS = ["sample", "gt", "zygosity", "dp", "gq", "ad", "allele_balance", "file"]
_CHUNK = 2_000


class GenotypeRefused(ValueError):
    """A genotype question the store cannot answer, or predicates out of range."""


@dataclass(frozen=True)
class GenotypeFilter:
    gt: str = "carrier"
    min_gq: int | None = None
    min_dp: int | None = None
    min_ab: float | None = None  # allele balance: ALT depth / (REF + ALT depth), from AD
    max_ab: float | None = None
    samples: tuple[str, ...] = ()

    def sql(self) -> str | None:
        """The predicates on `calls` columns (validated values only)."""
        if self.gt not in ZYGOSITY:
            raise GenotypeRefused(f"--gt {self.gt!r}: one of {', '.join(GT_CLASSES)}")
        for name, value in (("--min-ab", self.min_ab), ("--max-ab", self.max_ab)):
            if value is not None and not 0.0 <= value <= 1.0:
                raise GenotypeRefused(f"{name} {value}: an allele balance is between 0 and 1")
        clauses = []
        clauses.append(f"zygosity IN ({', '.join(map(quoted, ZYGOSITY[self.gt]))})")
        if self.min_gq is not None:
            clauses.append(f"gq >= {int(self.min_gq)}")
        if self.min_dp is not None:
            clauses.append(f"dp >= {int(self.min_dp)}")
        if self.samples:
            clauses.append(f"sample IN ({', '.join(map(quoted, self.samples))})")
        return all_of(*clauses)


def select_genotypes(variants_table, calls_table, variant_where: str | None, wanted: GenotypeFilter, limit: int | None = None) -> pa.Table:
    """Rows of VARIANT_COLUMNS + CALL_COLUMNS, ordered by contig, position, variant and sample."""
    call_where = wanted.sql()
    columns = ["partition_key", "variant_id", "sample", "gt", "zygosity", "dp", "gq", "ad"]
    if variant_where is None:
        calls = _read(calls_table, call_where, columns)
    else:
        ids = variants_table.search().where(variant_where).select(["variant_id"]).limit(None).to_arrow()["variant_id"]
        parts = [_read(calls_table, all_of(call_where, in_list("variant_id", chunk)), columns) for chunk in _chunks(ids.to_pylist())]
        calls = pa.concat_tables(parts) if parts else _read(calls_table, "FALSE", columns)
    calls = _with_balance(calls).rename_columns([{"partition_key": "file"}.get(c, c) for c in [*columns, "allele_balance"]])
    if wanted.min_ab is not None:
        calls = calls.filter(pc.greater_equal(calls["allele_balance"], wanted.min_ab))
    if wanted.max_ab is not None:
        calls = calls.filter(pc.less_equal(calls["allele_balance"], wanted.max_ab))
    ids = pc.unique(calls["variant_id"]).to_pylist() if calls.num_rows else []
    parts = [_read(variants_table, in_list("variant_id", chunk), VARIANT_COLUMNS) for chunk in _chunks(ids)]
    variants = pa.concat_tables(parts) if parts else _read(variants_table, "FALSE", VARIANT_COLUMNS)
    at = pc.index_in(calls["variant_id"], value_set=variants["variant_id"].combine_chunks())
    calls, at = calls.filter(pc.is_valid(at)), at.filter(pc.is_valid(at))
    found = variants.take(at)  # Arrow's joins cannot carry the list column `ad`
    rows = pa.table({**{c: found[c] for c in VARIANT_COLUMNS}, **{c: calls[c] for c in CALL_COLUMNS}})
    rows = rows.sort_by([("chrom", "ascending"), ("pos", "ascending"), ("variant_id", "ascending"), ("sample", "ascending"), ("file", "ascending")])
    return (rows.slice(0, limit) if limit else rows).cast(_schema(calls_table, variants_table))


def _read(table, where: str | None, columns: list[str]) -> pa.Table:
    query = table.search().select(columns).limit(None)
    return (query.where(where) if where else query).to_arrow()


def _chunks(values: list[str]):
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _with_balance(calls: pa.Table) -> pa.Table:
    """ALT depth / (REF + ALT depth) from AD ([REF, this ALT]); null without both depths or with none."""
    ad = calls["ad"].combine_chunks() if calls.num_rows else pa.array([], pa.list_(pa.int32()))
    two = pc.equal(pc.list_value_length(ad), 2)
    ref = pc.if_else(two, pc.list_element(pc.if_else(two, ad, pa.scalar([0, 0], ad.type)), 0), None).cast(pa.float64())
    alt = pc.if_else(two, pc.list_element(pc.if_else(two, ad, pa.scalar([0, 0], ad.type)), 1), None).cast(pa.float64())
    total = pc.add(ref, alt)
    balance = pc.round(pc.divide(alt, pc.if_else(pc.greater(total, 0), total, None)), 4)
    return calls.append_column("allele_balance", balance)


def _schema(calls_table, variants_table) -> pa.Schema:
    variant_fields = [variants_table.schema.field(c) for c in VARIANT_COLUMNS]
    call_fields = [calls_table.schema.field(c) for c in ("sample", "gt", "zygosity", "dp", "gq", "ad")]
    return pa.schema([*variant_fields, *call_fields, pa.field("allele_balance", pa.float64()), pa.field("file", pa.string())])
