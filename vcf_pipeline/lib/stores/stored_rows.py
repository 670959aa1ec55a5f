"""A variant's stored row: the file's columns, the annotation merged across the files holding it
(`annotation_merge`), curated values on top (`curations`), and the text and vector that follow.

Only rows that something changed are described and embedded again, and texts the store has embedded
before reuse their stored vector."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vcf_pipeline.lib.embedding.text import describe_variant, text_hash
from vcf_pipeline.lib.stores.curation_log import Overlay
from vcf_pipeline.lib.stores.variant_tables import FILE_VARIANTS, in_list
from vcf_pipeline.lib.stores.warehouse import (
    REFRESHED_ROWS,
    STORED_ROWS,
    PartitionFiles,
    stream_batches,
    variant_batches_with_embeddings,
)
from vcf_pipeline.lib.vcf.annotation_merge import OWN, RANK, merge
from vcf_pipeline.lib.vcf.reader import VARIANT_SCHEMA

Vectors = Callable[[list[str]], np.ndarray]  # texts -> vectors (cached ones first)


def file_annotations(store, variant_ids: list[str]) -> dict[str, list[dict]]:
    """Every file's own annotation row of each of `variant_ids` (`file_variants` rows), by id."""
    found: dict[str, list[dict]] = {}
    for start in range(0, len(variant_ids), 2_000):
        for row in store.read(FILE_VARIANTS, where=in_list("variant_id", variant_ids[start : start + 2_000])).to_pylist():
            found.setdefault(row["variant_id"], []).append(row)
    return found


def merged_annotations(store, variant_ids: list[str], extra: dict[str, dict] | None = None) -> dict[str, dict]:
    """The merged annotation columns of each of `variant_ids`, from the files holding it (plus
    `extra` rows: a file's own rows not stored yet)."""
    rows = file_annotations(store, variant_ids)
    for variant_id, row in (extra or {}).items():
        rows[variant_id] = [r for r in rows.get(variant_id, []) if r["partition_key"] != row["partition_key"]] + [row]
    return {variant_id: merge(held) for variant_id, held in rows.items()}


def vectors_for(store, texts: list[str], model_id: str, encode: Vectors) -> np.ndarray:
    """Embeddings of `texts`: stored ones where the store has the text already, `encode` the rest."""
    hashes = [text_hash(t) for t in texts]
    cached = store.cached_embeddings(hashes, model_id)
    missing = sorted({t for t, h in zip(texts, hashes) if h not in cached})
    if missing:
        cached.update(zip((text_hash(t) for t in missing), encode(missing)))
    return np.stack([np.asarray(cached[h], dtype=np.float32) for h in hashes]) if texts else np.zeros((0, 0), np.float32)


def settle(rows: list[dict], merged: dict[str, dict], overlay: Overlay, vectors: Vectors) -> list[dict]:
    """Give `rows` (whole `variants` rows, as dicts) their merged annotation and curated values,
    then a new text and vector where the text changed. Changes the dicts; returns them."""
    for row in rows:
        row.update(merged.get(row["variant_id"], {}))
        row.update({k: v for k, v in (overlay.edited_fields(row["variant_id"]) or {}).items() if k in row})
    changed = []
    for row in rows:
        description = describe_variant(row)
        if description != row["description"]:
            row["description"], row["text_hash"] = description, text_hash(description)
            changed.append(row)
    if changed:
        for row, vector in zip(changed, vectors([r["description"] for r in changed])):
            row["embedding"] = [float(x) for x in vector]
    return rows


def settled_batches(
    batches: Iterable[pa.RecordBatch], partition_key: str, rank: int, held_elsewhere: pa.Array, store, overlay: Overlay, vectors: Vectors
) -> Iterator[pa.RecordBatch]:
    """A partition's variant batches (with description and embedding) as they are to be stored:
    tombstoned rows left out; rows other files also hold merged with those files' annotation;
    curated rows with their curated values."""
    edited = pa.array(sorted(k for k in overlay.by_id if overlay.edited_fields(k) is not None), pa.string())
    for batch in overlay.without_tombstoned(batches):
        ids = batch.column("variant_id")
        shared = pc.is_in(ids, value_set=held_elsewhere)
        touched = pc.or_(shared, pc.is_in(ids, value_set=edited))
        if not batch.num_rows or not pc.any(touched).as_py():
            yield batch
            continue
        rows = batch.filter(touched).to_pylist()
        own = {r["variant_id"]: {"partition_key": partition_key, "variant_id": r["variant_id"], RANK: rank, **{c: r[c] for c in OWN}}
               for r in batch.filter(shared).to_pylist()}
        settle(rows, merged_annotations(store, sorted(own), extra=own), overlay, vectors)
        kept = pa.Table.from_batches([batch.filter(pc.invert(touched))], batch.schema)
        yield pa.concat_tables([kept, pa.Table.from_pylist(rows, batch.schema)]).combine_chunks().to_batches()[0]


def refresh(store, variant_ids: list[str], overlay: Overlay, vectors: Vectors) -> pa.Table:
    """Merge the annotation of stored variants anew (after a file holding them changed or left) and
    store them; returns their rows as stored (for the graph)."""
    current = store.rows_of(variant_ids)
    if not current.num_rows:
        return current
    rows = settle(current.to_pylist(), merged_annotations(store, variant_ids), overlay, vectors)
    table = pa.Table.from_pylist(rows, current.schema)
    dimension = table.schema.field("embedding").type.list_size
    store.upsert_variants(table.drop_columns([c for c in ("row_key",) if c in table.column_names]).to_batches(), dimension)
    return table


@dataclass
class PartitionWrite:
    """What storing one partition in LanceDB did (for run metadata)."""

    given: int = 0
    inserted: int = 0
    updated: int = 0
    calls: int = 0
    removed: int = 0
    refreshed: int = 0


def store_partition(store, files: PartitionFiles, rank: int, overlay: Overlay, vectors: Vectors) -> PartitionWrite:
    """Store a parsed, embedded partition: its variants as `settled_batches` makes them, its
    ownership rows with its own annotation, its calls; then merge anew the variants it no longer
    holds that other files do. Writes `files.stored_rows` and `files.refreshed_rows` for the graph."""
    key = files.partition_key
    held_elsewhere = store.ids_held_elsewhere(key)
    dimension = files.embeddings.schema().field("embedding").type.list_size
    done = PartitionWrite()
    with files.output(STORED_ROWS) as stored, stored.writer(VARIANT_SCHEMA) as out:

        def kept(batches):
            for batch in batches:
                out.write_batch(pa.RecordBatch.from_arrays([batch.column(n) for n in VARIANT_SCHEMA.names], schema=VARIANT_SCHEMA))
                yield batch

        settled = settled_batches(variant_batches_with_embeddings(files), key, rank, held_elsewhere, store, overlay, vectors)
        done.given, done.inserted, done.updated = store.upsert_variants(kept(settled), dimension)
    done.calls, done.removed, dropped_shared = store.replace_partition(
        key, rank,
        lambda: overlay.without_tombstoned(stream_batches(files.variants, 50_000, columns=["variant_id", *OWN])),
        lambda: overlay.without_tombstoned(stream_batches(files.calls, 50_000)),
    )
    refreshed = refresh(store, dropped_shared, overlay, vectors)
    done.refreshed = refreshed.num_rows
    with files.output(REFRESHED_ROWS) as out:
        out.write_table(refreshed.select(VARIANT_SCHEMA.names).cast(VARIANT_SCHEMA) if refreshed.num_rows else VARIANT_SCHEMA.empty_table())
    return done


def as_stored_now(batches: Iterable[pa.RecordBatch], store, overlay: Overlay) -> Iterator[pa.RecordBatch]:
    """A partition's stored rows (`files.stored_rows`) with curated variants as LanceDB holds them
    now: an edit or a delete made between the LanceDB write and the graph load (curation holds both
    pools, a run holds one at a time) must reach the graph too."""
    curated = pa.array(sorted(overlay.by_id), pa.string())
    for batch in overlay.without_tombstoned(batches):
        hit = pc.is_in(batch.column("variant_id"), value_set=curated)
        if not batch.num_rows or not pc.any(hit).as_py():
            yield batch
            continue
        now = store.rows_of(batch.filter(hit).column("variant_id").to_pylist())
        kept = pa.Table.from_batches([batch.filter(pc.invert(hit))], batch.schema)
        current = now.select(batch.schema.names).cast(batch.schema) if now.num_rows else batch.schema.empty_table()
        yield pa.concat_tables([kept, current]).combine_chunks().to_batches()[0] if kept.num_rows + current.num_rows else batch.slice(0, 0)
