"""Which annotation a variant shows when several files hold it: a documented, deterministic merge.

Every file's own annotation of each variant it holds is kept (LanceDB `file_variants`, beside the
row saying the file holds the variant). A variant's columns in `variants` are merged from them:
- the transcript annotation (gene symbol and id, consequence, impact, HGVS c. and p.) comes whole
  from one file, the first that has one: VEP-annotated files, then SnpEff-annotated, then others;
- the ClinVar assertion (significance, review status, conditions) comes whole from the first file
  that has one;
- rsID, allele frequency, QUAL, FILTER and END each come from the first file that has a value.
"First" among files of equal rank is by partition key: the result never depends on the order in
which files were ingested, and retracting a file leaves exactly what the other files say.
Curated values (`lib/curations.py`) are applied on top of the merge.
The cohort counts are not chosen but summed: `cohort_ac` and `cohort_an` over every file holding the
variant (`cohort_counts`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vcf_pipeline.lib.vcf.cohort_counts import (
    COUNT_FIELDS,
    COUNTS,
    allele_frequency,
    cohort_of,
)
from vcf_pipeline.lib.vcf.parsed import VARIANT_SCHEMA

TRANSCRIPT = ("gene_symbol", "gene_id", "consequence", "impact", "hgvs_c", "hgvs_p")
CLINVAR = ("clinical_significance", "clinvar_review_status", "conditions")
EACH = ("rsid", "allele_frequency", "qual", "filter", "end")
ANNOTATION = TRANSCRIPT + CLINVAR + EACH
OWN = ANNOTATION + COUNTS  # what a file says of a variant it holds
RANK = "transcript_rank"  # 0 VEP, 1 SnpEff, 2 other: the file's transcript annotation source

# What `file_variants` holds per (file, variant): ownership, the file's own annotation and counts.
FILE_VARIANTS_SCHEMA = pa.schema(
    [pa.field("partition_key", pa.string()), pa.field("variant_id", pa.string()), pa.field(RANK, pa.int8())]
    + [VARIANT_SCHEMA.field(c) for c in ANNOTATION]
    + COUNT_FIELDS
)


def transcript_rank(annotation_kinds: Iterable[str]) -> int:
    """A file's rank from the annotations its header declares (`ParseStats.annotation_kinds`)."""
    kinds = set(annotation_kinds)
    return 0 if "VEP CSQ" in kinds else 1 if "SnpEff ANN" in kinds else 2


def _present(value) -> bool:
    return value is not None and value != "" and value != []


def merge(rows: list[dict]) -> dict:
    """The merged annotation and cohort columns of one variant from its files' rows (`file_variants` rows)."""
    ordered = sorted(rows, key=lambda r: (r[RANK] if r[RANK] is not None else 2, r["partition_key"]))
    merged: dict = {}
    for group in (TRANSCRIPT, CLINVAR):
        source = next((r for r in ordered if any(_present(r.get(c)) for c in group)), None)
        merged.update({c: source.get(c) if source else None for c in group})
    for column in EACH:
        merged[column] = next((r.get(column) for r in ordered if _present(r.get(column))), None)
    merged.update(cohort_of(rows))
    return merged


def merge_columns(rows: pa.Table) -> pa.Table:
    """`merge` for many variants at once: `rows` are `file_variants` rows (any order, several per
    variant); one row per variant comes back, sorted by variant_id, with the merged columns."""
    if not rows.num_rows:
        return pa.table({"variant_id": pa.array([], pa.string())})
    ranked = rows.append_column("_rank", pc.fill_null(rows[RANK].cast(pa.int8()), 2))
    ordered = ranked.sort_by([("variant_id", "ascending"), ("_rank", "ascending"), ("partition_key", "ascending")]).combine_chunks()
    ids = ordered["variant_id"].chunk(0)
    n = ordered.num_rows
    new_group = np.ones(n, dtype=bool)
    if n > 1:
        new_group[1:] = np.asarray(pc.not_equal(ids.slice(1), ids.slice(0, n - 1)).to_numpy(zero_copy_only=False), dtype=bool)
    starts = np.flatnonzero(new_group)
    ends = np.r_[starts[1:], n]

    def first_where(present: np.ndarray) -> pa.Array:
        """Per variant, the index of its first row where `present` (null where none)."""
        position = np.minimum.reduceat(np.where(present, np.arange(n), n), starts)
        found = position < ends
        return pa.array(np.where(found, position, 0), mask=~found)

    def present(column: str) -> np.ndarray:
        values = ordered[column]
        valid = pc.is_valid(values)
        if pa.types.is_string(values.type):
            valid = pc.and_(valid, pc.not_equal(pc.fill_null(values, ""), ""))
        elif pa.types.is_list(values.type):
            valid = pc.and_(valid, pc.greater(pc.fill_null(pc.list_value_length(values), 0), 0))
        return np.asarray(valid.to_numpy(zero_copy_only=False), dtype=bool)

    out = {"variant_id": ids.take(pa.array(starts))}
    for group in (TRANSCRIPT, CLINVAR):
        source = first_where(np.logical_or.reduce([present(c) for c in group]))
        out.update({c: ordered[c].take(source) for c in group})
    for column in EACH:
        out[column] = ordered[column].take(first_where(present(column)))
    # cohort_of: summed over the files; unknown while any file holding the variant has no counts
    an_missing = np.asarray(pc.is_null(ordered["an"]).to_numpy(zero_copy_only=False), dtype=bool)
    unknown = np.logical_or.reduceat(an_missing, starts)
    ac = np.add.reduceat(pc.fill_null(ordered["ac"], 0).to_numpy().astype(np.int64), starts)
    an = np.add.reduceat(pc.fill_null(ordered["an"], 0).to_numpy().astype(np.int64), starts)
    out["cohort_ac"] = pa.array(ac, mask=unknown)
    out["cohort_an"] = pa.array(an, mask=unknown)
    out["cohort_af"] = pa.array([None if u else allele_frequency(a, t) for u, a, t in zip(unknown.tolist(), ac.tolist(), an.tolist())], pa.float64())
    return pa.table(out)
