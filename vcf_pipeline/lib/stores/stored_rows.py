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

from vcf_pipeline.lib.embedding.text import (
    DESCRIBED_COLUMNS,
    describe_batch,
    describe_variant,
    text_hash,
)
from vcf_pipeline.lib.stores.curation_log import Overlay
from vcf_pipeline.lib.stores.id_sets import IdIndex, found_in
from vcf_pipeline.lib.stores.variant_tables import (
    FILE_VARIANTS,
    ROW_KEY,
    StoredRowKeys,
    Vectors,
    in_list,
    row_keys,
    sql_string,
    with_row_keys,
)
from vcf_pipeline.lib.stores.warehouse import (
    REFRESHED_ROWS,
    STORED_ROWS,
    PartitionFiles,
    stream_batches,
    variant_batches_with_embeddings,
)
from vcf_pipeline.lib.vcf.annotation_merge import (
    FILE_VARIANTS_SCHEMA,
    OWN,
    RANK,
    merge_columns,
)
from vcf_pipeline.lib.vcf.parsed import VARIANT_SCHEMA

_LOOKUP_IDS = 20_000  # ids a `file_variants` query looks up
_WINDOW_IDS = 500_000  # shared ids one `file_variants` scan serves (`SharedRows`): ~135 MB of rows
# Fewer ids than this outside the window are looked up by id, not scanned for: a file whose rows are
# mostly stored as they are asks for a few here and there (a 1M re-ingest after a 20k cohort file:
# 4k rows in 50 batches, for which two window scans of 2M rows took 7.4 s and 500 MB).
_FEW_IDS = 2_000


def file_annotation_rows(store, variant_ids: list[str]) -> pa.Table:
    """Every file's own annotation row of each of `variant_ids` (`file_variants` rows): looked up by
    id through the id index, 20k ids a query, or, for ids as many as half the table's rows, one scan
    filtered here. A batch of 20k ids in 100k-500k rows: 0.18-0.26 s a query, against 0.47 s in
    queries of 2k ids and 0.3-0.8 s for a scan."""
    if variant_ids and len(variant_ids) * 2 >= store.count(FILE_VARIANTS):
        rows = store.read(FILE_VARIANTS, columns=FILE_VARIANTS_SCHEMA.names)
        parts = [rows.filter(pc.is_in(rows["variant_id"], value_set=pa.array(variant_ids, pa.string())))] if rows.num_rows else []
    else:
        parts = [store.read(FILE_VARIANTS, columns=FILE_VARIANTS_SCHEMA.names, where=in_list("variant_id", variant_ids[start : start + _LOOKUP_IDS]))
                 for start in range(0, len(variant_ids), _LOOKUP_IDS)]
    parts = [part.select(FILE_VARIANTS_SCHEMA.names).cast(FILE_VARIANTS_SCHEMA) for part in parts if part.num_rows]
    return pa.concat_tables(parts) if parts else FILE_VARIANTS_SCHEMA.empty_table()


def merged_table(rows: pa.Table, own: pa.Table | None = None) -> pa.Table:
    """The merged annotation columns (`merge_columns`) of the variants of `rows` (`file_variants`
    rows of every file holding them); `own`: one file's rows not stored yet, in place of that
    file's stored ones."""
    if own is not None and own.num_rows:
        key = own["partition_key"][0].as_py()
        replaced = pc.and_(pc.equal(rows["partition_key"], key), pc.is_in(rows["variant_id"], value_set=own["variant_id"]))
        rows = pa.concat_tables([rows.filter(pc.invert(replaced)), own.select(FILE_VARIANTS_SCHEMA.names).cast(FILE_VARIANTS_SCHEMA)])
    return merge_columns(rows)


def merged_annotations(store, variant_ids: list[str]) -> dict[str, dict]:
    """The merged annotation columns of each of `variant_ids`, by id."""
    return {row.pop("variant_id"): row for row in merged_table(file_annotation_rows(store, variant_ids)).to_pylist()}


class SharedRows:
    """The `file_variants` rows of a partition's variants that other files hold too, for a partition
    read in file order: one scan of the table serves the next 500k of them, in place of an id-index
    query per 20k ids (a 100k re-ingest: five queries, 1.29 s, against one scan of 200k rows,
    0.34 s). An id outside the window (rows out of order), or a few ids (`_FEW_IDS`), are looked
    up by id.

    Which ids other files hold is read at the first question (`ids_held_elsewhere`, a scan of
    `file_variants`: 1.5-2 s at 2M rows): a file whose rows are all stored as they are never asks."""

    def __init__(self, store, partition_key: str, file_ids: Callable[[], Iterable[pa.Array]]):
        self._store, self._partition_key, self._file_ids = store, partition_key, file_ids
        self._held: IdIndex | None = None

    def _held_elsewhere(self) -> IdIndex:
        if self._held is None:
            held = self._store.ids_held_elsewhere(self._partition_key)
            self._held = IdIndex(held)
            shared = [ids.filter(self._held.contains(ids)) for ids in self._file_ids()] if len(held) else []
            self._order = pa.concat_arrays([a.cast(pa.string()) for a in shared]) if shared else pa.array([], pa.string())
            self._window, self._rows = pa.array([], pa.string()), FILE_VARIANTS_SCHEMA.empty_table()
            # a scan reads every row of the table; looking an id up by index costs about what scanning 8 rows does
            self._scan = len(self._order) > 0 and min(len(self._order), _WINDOW_IDS) * 8 >= self._store.count(FILE_VARIANTS)
        return self._held

    def held(self, ids: pa.Array) -> pa.Array:
        """Which of `ids` other files hold."""
        return self._held_elsewhere().contains(ids)

    def rows(self, ids: pa.Array) -> pa.Table:
        """Every file's `file_variants` row of each of `ids` (shared ids of the partition)."""
        self._held_elsewhere()
        if not self._scan or not len(ids):
            return file_annotation_rows(self._store, ids.to_pylist())
        inside = found_in(ids, self._window)
        if not pc.all(inside).as_py() and len(ids) >= _FEW_IDS:
            self._scan_window(ids[0])
            inside = found_in(ids, self._window)
        rows = self._rows.filter(found_in(self._rows["variant_id"], ids))
        outside = ids.filter(pc.invert(inside)).to_pylist()
        return pa.concat_tables([rows, file_annotation_rows(self._store, outside)]) if outside else rows

    def _scan_window(self, first: pa.Scalar) -> None:
        at = pc.index_in(pa.array([first], pa.string()), value_set=self._order)[0].as_py()
        self._window = self._order.slice(at or 0, _WINDOW_IDS)
        self._rows = FILE_VARIANTS_SCHEMA.empty_table()  # let the old window go before the scan
        kept = [batch.filter(found_in(batch.column("variant_id"), self._window)) for batch in self._store.scan(FILE_VARIANTS, FILE_VARIANTS_SCHEMA.names)]
        table = pa.Table.from_batches(kept) if kept else FILE_VARIANTS_SCHEMA.empty_table()
        self._rows = table.select(FILE_VARIANTS_SCHEMA.names).cast(FILE_VARIANTS_SCHEMA).combine_chunks()


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
    batches: Iterable[pa.RecordBatch], partition_key: str, rank: int, shared_rows: SharedRows, overlay: Overlay, vectors: Vectors,
    stored: StoredRowKeys | None = None,
) -> Iterator[pa.RecordBatch]:
    """A partition's variant batches (with description and embedding) as they are to be stored:
    tombstoned rows left out; rows other files also hold merged with those files' annotation (a
    batch at a time, `merge_columns`), and described anew only where a described column changed
    (their vector left for the upsert to get); curated rows with their curated values. Given
    `stored` (ids and row digests), rows the merge would leave as stored are not merged (`_as_stored`).
    Each batch comes with its rows' digests (`with_row_keys`), computed once."""
    edited = pa.array(sorted(k for k in overlay.by_id if overlay.edited_fields(k) is not None), pa.string())
    for batch in overlay.without_tombstoned(batches):
        if not batch.num_rows:
            continue
        dimension = batch.schema.field("embedding").type.list_size
        ids = batch.column("variant_id")
        curated = pc.is_in(ids, value_set=edited)
        keyed = None
        if stored is None:
            shared = shared_rows.held(ids)
        else:  # only rows the merge may change need to know whether other files hold them
            keyed = with_row_keys(batch, dimension)
            may_change = pc.invert(pc.and_(_as_stored(keyed, stored, batch.column("an")), pc.invert(curated)))
            shared = pc.and_(shared_rows.held(ids), may_change) if pc.any(may_change).as_py() else may_change
        if not pc.any(pc.or_(shared, curated)).as_py():
            yield _one_batch(keyed if keyed is not None else with_row_keys(batch, dimension))
            continue
        if pc.any(shared).as_py():
            batch = _with_merged(batch, shared, partition_key, rank, shared_rows)
        if pc.any(curated).as_py():
            rows = settle(batch.filter(curated).to_pylist(), {}, overlay, vectors)
            kept = pa.Table.from_batches([batch.filter(pc.invert(curated))], batch.schema)
            batch = _one_batch(pa.concat_tables([kept, pa.Table.from_pylist(rows, batch.schema)]))
            keyed = None  # rows moved: every digest anew
        yield _one_batch(with_row_keys(batch, dimension) if keyed is None else _keyed_anew(batch, keyed, shared))


def _keyed_anew(batch: pa.RecordBatch, keyed: pa.Table, changed: pa.Array) -> pa.Table:
    """`with_row_keys(batch)` for a batch whose rows `changed` differ from `keyed`'s (the same rows,
    in the same order): only those rows are digested again."""
    data = pa.Table.from_batches([batch]).select([name for name in keyed.column_names if name != ROW_KEY])
    digests = row_keys(data.filter(changed))
    return data.append_column(ROW_KEY, pc.replace_with_mask(keyed[ROW_KEY].combine_chunks(), changed, digests))


def _one_batch(table: pa.Table) -> pa.RecordBatch:
    return table.combine_chunks().to_batches()[0]


def _as_stored(keyed: pa.Table, stored: StoredRowKeys, called_alleles: pa.Array) -> pa.Array:
    """Rows (`with_row_keys`) a new file's merge would leave as they are stored: the file's own row
    is the stored row (the same id and digest) and the file adds no `called_alleles` (its `an`) to
    the cohort counts. The merge takes each annotation group from the first file that has it and
    sums the counts, so adding a file that repeats the merged row and adds no genotypes changes
    nothing. (A file replacing its own earlier rows could: the rows it drops may be where the merged
    row came from.)"""
    _, unchanged = stored.compared(keyed)
    return pc.and_(unchanged, pc.fill_null(pc.equal(called_alleles, 0), False))


def _with_merged(batch: pa.RecordBatch, shared: pa.Array, partition_key: str, rank: int, shared_rows: SharedRows) -> pa.RecordBatch:
    """`batch` with the merged annotation in its shared rows; those whose described columns changed
    get a new text (and no vector, for the upsert to get)."""
    own = batch.filter(shared)
    own = pa.table({
        "partition_key": pa.array([partition_key] * own.num_rows, pa.string()),
        RANK: pa.array([rank] * own.num_rows, pa.int8()),
        **{name: own.column(name) for name in ("variant_id", *OWN)},
    })
    table = merged_table(shared_rows.rows(own["variant_id"]), own)
    merged = {name: table[name].combine_chunks() for name in table.column_names}
    where = pc.index_in(batch.column("variant_id"), value_set=merged["variant_id"])
    columns = {name: batch.column(name) for name in batch.schema.names}
    for name in merged:
        if name != "variant_id" and name in columns:
            value = merged[name].take(where).cast(columns[name].type)
            columns[name] = pc.if_else(shared, value, columns[name])
    changed = np.zeros(batch.num_rows, dtype=bool)
    for name in DESCRIBED_COLUMNS:
        if name in merged:
            changed |= _differs(batch.column(name), columns[name])
    batch = pa.RecordBatch.from_arrays(list(columns.values()), schema=batch.schema)
    return _described_anew(batch, np.flatnonzero(changed)) if changed.any() else batch


def _differs(before: pa.Array, after: pa.Array) -> np.ndarray:
    if pa.types.is_list(before.type):
        before, after = pc.binary_join(before, "\x1f"), pc.binary_join(after, "\x1f")
    same = pc.or_kleene(pc.and_kleene(pc.is_null(before), pc.is_null(after)), pc.fill_null(pc.equal(before, after), False))
    return ~np.asarray(pc.fill_null(same, False).to_numpy(zero_copy_only=False), dtype=bool)


def _described_anew(batch: pa.RecordBatch, rows: np.ndarray) -> pa.RecordBatch:
    """`batch` with a new text and hash in `rows` where the text changed, and no vector there: the
    upsert gets the new text's vector (`with_vectors`)."""
    taken = pa.array(rows)
    texts = describe_batch(batch.select([c for c in DESCRIBED_COLUMNS if c in batch.schema.names]).take(taken))
    before = batch.column("description").take(taken).to_pylist()
    changed = [(i, t) for i, t, b in zip(rows.tolist(), texts, before) if t != b]
    if not changed:
        return batch
    at = np.array([i for i, _ in changed])
    new_texts = [t for _, t in changed]
    mask = pa.array(np.isin(np.arange(batch.num_rows), at))
    order = np.argsort(at)  # replace_with_mask fills masked slots in row order
    columns = {name: batch.column(name) for name in batch.schema.names}
    columns["description"] = pc.replace_with_mask(columns["description"], mask, pa.array([new_texts[i] for i in order], pa.string()))
    columns["text_hash"] = pc.replace_with_mask(columns["text_hash"], mask, pa.array([text_hash(new_texts[i]) for i in order], pa.string()))
    columns["embedding"] = pc.if_else(mask, pa.scalar(None, columns["embedding"].type), columns["embedding"])
    return pa.RecordBatch.from_arrays([columns[n].cast(batch.schema.field(n).type) for n in batch.schema.names], schema=batch.schema)


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
    stored_keys = store.stored_row_keys()
    # A file new to the store adds rows; its variants that it repeats as stored need no merge.
    new_file = not store.count(FILE_VARIANTS, f"partition_key = {sql_string(key)}")
    shared_rows = SharedRows(store, key, lambda: (b.column(0) for b in stream_batches(files.variants, 200_000, columns=["variant_id"])))
    dimension = files.embeddings.schema().field("embedding").type.list_size
    done = PartitionWrite()
    with files.output(STORED_ROWS) as stored, stored.writer(VARIANT_SCHEMA) as out:

        def kept(batches):
            for batch in batches:
                out.write_batch(pa.RecordBatch.from_arrays([batch.column(n) for n in VARIANT_SCHEMA.names], schema=VARIANT_SCHEMA))
                yield batch

        settled = settled_batches(variant_batches_with_embeddings(files), key, rank, shared_rows, overlay, vectors, stored_keys if new_file else None)
        done.given, done.inserted, done.updated = store.upsert_variants(kept(settled), dimension, vectors, stored_keys, keyed=True)
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
