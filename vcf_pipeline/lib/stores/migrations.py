"""Upgrades of LanceDB tables written by an earlier version, run when a write first opens them."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from vcf_pipeline.lib.search.keywords import KEYWORDS, keyword_column
from vcf_pipeline.lib.stores.lancedb_session import retry_conflicts
from vcf_pipeline.lib.stores.variant_store import VariantStore
from vcf_pipeline.lib.stores.variant_tables import VARIANTS
from vcf_pipeline.lib.vcf.annotation_merge import ANNOTATION, FILE_VARIANTS_SCHEMA, RANK
from vcf_pipeline.lib.vcf.cohort_counts import COUNTS
from vcf_pipeline.lib.vcf.parsed import VARIANT_SCHEMA


def add_file_annotations(store: VariantStore, table) -> None:
    """`file_variants` from before per-file annotations: give each old row the annotation its
    variant shows now (the last file's, as the store kept it then), so a later merge never
    takes an old file for one that says nothing."""
    owned = table.search().select(["partition_key", "variant_id"]).limit(None).to_arrow()
    variants = store.read(VARIANTS, ["variant_id", *ANNOTATION]) if VARIANTS in store.table_names() else pa.table({})
    if not owned.num_rows or not variants.num_rows:
        return
    at = pc.index_in(owned["variant_id"], value_set=variants["variant_id"].combine_chunks())
    owned, at = owned.filter(pc.is_valid(at)), at.filter(pc.is_valid(at))
    found = variants.take(at)  # Arrow joins cannot carry the list column `conditions`
    rows = pa.table({**{c: owned[c] for c in ("partition_key", "variant_id")}, RANK: pa.array([2] * owned.num_rows, pa.int8()),
                     **{c: found[c] for c in ANNOTATION},
                     **{c: pa.nulls(owned.num_rows, FILE_VARIANTS_SCHEMA.field(c).type) for c in COUNTS}}, schema=FILE_VARIANTS_SCHEMA)  # counts unknown
    retry_conflicts(lambda: table.merge_insert(["partition_key", "variant_id"]).when_matched_update_all().execute(rows))


def fill_keywords(table, batch_rows: int = 100_000) -> None:
    """`variants` from before the full-text index: give every row its keywords (computed from its
    own columns, as an upsert would)."""
    rows = table.search().select(VARIANT_SCHEMA.names).limit(None).to_arrow()
    for start in range(0, rows.num_rows, batch_rows):
        chunk = rows.slice(start, batch_rows)
        update = pa.table({"variant_id": chunk["variant_id"], KEYWORDS: keyword_column(chunk)})
        retry_conflicts(lambda: table.merge_insert("variant_id").when_matched_update_all().execute(update))
