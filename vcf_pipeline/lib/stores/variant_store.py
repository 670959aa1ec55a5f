"""The LanceDB store: table `variants` (one row per distinct variant, with its embedding), and two
tables owned by partitions and replaced as a whole per partition: `file_variants` (which file holds
which variant, with that file's own annotation of it: it decides when a variant is no longer held by
any file, and what a variant shares across files, see `annotation_merge`) and `calls` (per sample)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vcf_pipeline.lib.search.keywords import KEYWORDS
from vcf_pipeline.lib.stores.identity_format import refuse_old_variants
from vcf_pipeline.lib.stores.lancedb_import import lancedb
from vcf_pipeline.lib.stores.lancedb_session import retry_conflicts, session
from vcf_pipeline.lib.stores.table_upkeep import (
    IndexPolicy,
    Upkeep,
    compact,
    fold_into_indexes,
    maintain_variants,
)
from vcf_pipeline.lib.stores.variant_tables import (
    CALLS,
    CALLS_SCHEMA,
    FILE_VARIANTS,
    ROW_KEY,
    VARIANTS,
    StoredRowKeys,
    Vectors,
    in_list,
    sql_string,
    variants_schema,
    with_keywords,
    with_row_keys,
    with_vectors,
)
from vcf_pipeline.lib.stores.vector_search import nearest
from vcf_pipeline.lib.vcf.annotation_merge import (
    ANNOTATION,
    FILE_VARIANTS_SCHEMA,
    OWN,
    RANK,
)

_LOOKUP_CHUNK = 2_000
_TAKE_CHUNK = 50_000


def _own(batch: pa.RecordBatch, name: str) -> pa.Array:  # nulls for counts a caller did not give
    return batch.column(name) if name in batch.schema.names else pa.nulls(batch.num_rows, FILE_VARIANTS_SCHEMA.field(name).type)


class VariantStore:
    """The LanceDB database at `uri` (a folder, or `s3://...`)."""

    def __init__(self, uri: Path | str, policy: IndexPolicy = IndexPolicy(), storage_options: dict[str, str] | None = None):
        self.uri, self.policy = str(uri), policy
        if "://" not in self.uri:
            Path(self.uri).mkdir(parents=True, exist_ok=True, mode=0o700)
        self.db = lancedb.connect(self.uri, session=session(), storage_options=storage_options)

    def _table(self, name: str):
        return self.db.open_table(name) if name in self.table_names() else None

    def table_names(self) -> list[str]:
        return list(self.db.list_tables().tables)

    def _ensure_table(self, name: str, schema: pa.Schema):
        # An existing table is opened as it is (create_table would insist its schema equals `schema`);
        # columns added since it was made are added to it, empty.
        table = self._table(name) or self.db.create_table(name, schema=schema, exist_ok=True)
        if name == VARIANTS:
            refuse_old_variants(table, f"the LanceDB table {self.uri}/{VARIANTS}")
        missing = [f for f in schema if f.name not in table.schema.names]
        if missing:
            table.add_columns(pa.schema(missing))
            from vcf_pipeline.lib.stores import migrations

            if name == FILE_VARIANTS and set(ANNOTATION) & {f.name for f in missing}:
                migrations.add_file_annotations(self, table)
            if name == VARIANTS and KEYWORDS in {f.name for f in missing}:
                migrations.fill_keywords(table)
        return table

    def check_identity(self) -> None:
        """OldIdentityError if `variants` holds ids from before genome builds."""
        table = self._table(VARIANTS)
        if table is not None:
            refuse_old_variants(table, f"the LanceDB table {self.uri}/{VARIANTS}")

    def _ensure_btree(self, table, column: str) -> None:
        if not any(column in idx.columns for idx in table.list_indices()):
            table.create_scalar_index(column, index_type="BTREE")

    def count(self, name: str, where: str | None = None) -> int:
        table = self._table(name)
        return 0 if table is None else table.count_rows(where)

    def version(self, name: str) -> int | None:
        table = self._table(name)
        return None if table is None else table.version

    def table_stats(self) -> dict[str, dict[str, int]]:
        """Version and row count of every table: what a backup records and a restore checks."""
        stats = {}
        for name in self.table_names():
            table = self.db.open_table(name)
            stats[name] = {"version": table.version, "rows": table.count_rows()}
        return stats

    def text_hashes(self, model: str) -> pa.Array:
        """The hash of every text the store holds a vector of `model` for (one scan of one narrow
        column; the vectors are not read)."""
        table = self._table(VARIANTS)
        if table is None:
            return pa.array([], pa.string())
        keys = table.search().where(f"embedding_model = {sql_string(model)}").select(["text_hash"]).limit(None).to_arrow()
        return pc.unique(keys["text_hash"].combine_chunks()) if keys.num_rows else pa.array([], pa.string())

    def cached_embeddings(self, text_hashes: Iterable[str], model: str) -> dict[str, np.ndarray]:
        """Stored vectors of the given text hashes for `model`: texts that need no embedding.

        One scan of the `text_hash` column finds the rows, then only those rows' vectors are read:
        cheap for a handful of hashes and for a whole re-ingested file alike."""
        table = self._table(VARIANTS)
        wanted = pa.array(sorted(set(text_hashes)), pa.string())
        if table is None or len(wanted) == 0:
            return {}
        keys = (
            table.search().where(f"embedding_model = {sql_string(model)}").select(["text_hash"]).with_row_id(True).limit(None).to_arrow()
        )
        hits = keys.filter(pc.is_in(keys["text_hash"], value_set=wanted))
        row_ids = list(dict(zip(hits["text_hash"].to_pylist(), hits["_rowid"].to_pylist())).values())  # one row per text
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(row_ids), _TAKE_CHUNK):
            rows = table.take_row_ids(row_ids[start : start + _TAKE_CHUNK]).select(["text_hash", "embedding"]).to_arrow()
            width = rows.schema.field("embedding").type.list_size
            vectors = rows.column("embedding").combine_chunks().flatten().to_numpy().reshape(rows.num_rows, width)
            found.update(zip(rows.column("text_hash").to_pylist(), vectors))
        return found

    def stored_row_keys(self) -> StoredRowKeys:
        """The id and row digest of every stored variant, indexed by id (two narrow columns; the
        digest null in a table from before digests)."""
        table = self._table(VARIANTS)
        if table is None:
            return StoredRowKeys(pa.table({"variant_id": pa.array([], pa.string()), ROW_KEY: pa.array([], pa.string())}))
        if ROW_KEY not in table.schema.names:
            ids = table.search().select(["variant_id"]).limit(None).to_arrow()
            return StoredRowKeys(ids.append_column(ROW_KEY, pa.nulls(ids.num_rows, pa.string())))
        return StoredRowKeys(table.search().select(["variant_id", ROW_KEY]).limit(None).to_arrow())

    def upsert_variants(
        self, batches: Iterable[pa.RecordBatch], dimension: int, vectors: Vectors | None = None, stored: StoredRowKeys | None = None,
        keyed: bool = False,
    ) -> tuple[int, int, int]:
        """Insert new variants and update changed ones, by `variant_id`. Returns (rows given,
        inserted, updated): rows equal to the stored ones are not rewritten.

        The stored ids and row digests are read once (two narrow columns); each batch is then split
        into new rows, appended, and changed rows, merged. A merge of every row against a table of
        millions held gigabytes, and a re-ingest of known variants now writes nothing. Run under the
        single-writer pool: nothing else writes between the read and the writes.

        A row may come without its vector (a null `embedding`: the embedding step found its text
        stored already); a row that is written gets it from `vectors(texts)`. `stored`: the
        `stored_row_keys` the caller read already; `keyed`: the batches come as `with_row_keys`
        makes them, their digests true to their rows."""
        schema = variants_schema(dimension)
        table = self._ensure_table(VARIANTS, schema)
        if ROW_KEY not in table.schema.names:  # a table from before row digests
            table.add_columns({ROW_KEY: "CAST(NULL AS STRING)"})
        stored = self.stored_row_keys() if stored is None else stored
        given = inserted = updated = 0
        for batch in batches:
            if batch.num_rows == 0:
                continue
            data = pa.Table.from_batches([batch]) if keyed else with_row_keys(batch, dimension)
            is_new, is_unchanged = stored.compared(data)
            new, changed = (
                with_keywords(with_vectors(rows, vectors), schema)
                for rows in (data.filter(is_new), data.filter(pc.and_(pc.invert(is_new), pc.invert(is_unchanged))))
            )
            if new.num_rows:
                retry_conflicts(lambda: table.add(new))
            if changed.num_rows:
                retry_conflicts(lambda: table.merge_insert("variant_id").when_matched_update_all().execute(changed))
            given += batch.num_rows
            inserted += new.num_rows
            updated += changed.num_rows
        if given:
            self._ensure_btree(table, "variant_id")
            self._ensure_btree(table, "text_hash")
        return given, inserted, updated

    def replace_partition(
        self,
        partition_key: str,
        rank: int,
        annotations: Callable[[], Iterator[pa.RecordBatch]],
        calls: Callable[[], Iterator[pa.RecordBatch]],
    ) -> tuple[int, int, list[str]]:
        """Make the partition hold exactly the variants of `annotations()` (batches of `variant_id`
        and the file's own annotation and count columns) and `calls()`, and remove the variants it held before
        that no file holds any more. Returns (calls written, variants removed, ids it no longer
        holds that other files do: their merged annotation may change).

        Run after `upsert_variants`, under the single-writer pool: orphans are removed before the
        ownership rows change, so a run that dies half-way is finished by its re-run."""
        held = self.read(FILE_VARIANTS, ["variant_id"], f"partition_key = {sql_string(partition_key)}") if self._table(FILE_VARIANTS) else pa.table({})
        dropped, removed = set(), 0
        if held.num_rows:  # the file held variants before: those it no longer holds may go
            new_ids: set[str] = set()
            for batch in annotations():
                new_ids.update(batch.column("variant_id").to_pylist())
            dropped = set(held.column("variant_id").to_pylist()) - new_ids
            removed = self._remove_orphans(partition_key, keep=new_ids)

        def ownership():
            for batch in annotations():
                columns = {"partition_key": pa.array([partition_key] * batch.num_rows, pa.string()), "variant_id": batch.column("variant_id"),
                           RANK: pa.array([rank] * batch.num_rows, pa.int8()), **{c: _own(batch, c) for c in OWN}}
                yield pa.RecordBatch.from_pydict(columns, schema=FILE_VARIANTS_SCHEMA)

        self._replace_rows(FILE_VARIANTS, FILE_VARIANTS_SCHEMA, partition_key, ["partition_key", "variant_id"], ownership)

        def calls_with_key():
            for batch in calls():
                keys = pa.array([partition_key] * batch.num_rows, pa.string())
                yield pa.RecordBatch.from_arrays([keys, *batch.columns], schema=CALLS_SCHEMA)

        written = self._replace_rows(CALLS, CALLS_SCHEMA, partition_key, ["partition_key", "sample", "variant_id"], calls_with_key)
        return written, removed, sorted(self.ids_held(sorted(dropped)))

    def ids_held_elsewhere(self, partition_key: str) -> pa.Array:
        """Ids of the variants some other partition holds (one scan of two narrow columns)."""
        if self._table(FILE_VARIANTS) is None:
            return pa.array([], pa.string())
        held = self._table(FILE_VARIANTS).search().select(["variant_id"]).where(f"partition_key != {sql_string(partition_key)}").limit(None).to_arrow()
        return pc.unique(held.column("variant_id").combine_chunks()) if held.num_rows else pa.array([], pa.string())

    def ids_held(self, variant_ids: list[str]) -> set[str]:
        """Those of `variant_ids` some partition holds."""
        found: set[str] = set()
        for start in range(0, len(variant_ids), _LOOKUP_CHUNK):
            rows = self.read(FILE_VARIANTS, ["variant_id"], in_list("variant_id", variant_ids[start : start + _LOOKUP_CHUNK]))
            found.update(rows.column("variant_id").to_pylist() if rows.num_rows else [])
        return found

    def rows_of(self, variant_ids: list[str]) -> pa.Table:
        """Whole `variants` rows of these ids (those that exist)."""
        tables = [self.read(VARIANTS, where=in_list("variant_id", variant_ids[i : i + _LOOKUP_CHUNK])) for i in range(0, len(variant_ids), _LOOKUP_CHUNK)]
        tables = [t for t in tables if t.num_rows]
        return pa.concat_tables(tables) if tables else pa.table({})

    def retract_partition(self, partition_key: str) -> tuple[int, list[str]]:
        """Remove the partition's calls and ownership rows and the variants only it held, as if it
        had never been ingested. Returns (variants removed, ids it held that other files still hold:
        their merged annotation may change)."""
        owned = f"partition_key = {sql_string(partition_key)}"
        held = self.read(FILE_VARIANTS, ["variant_id"], owned) if self._table(FILE_VARIANTS) else pa.table({})
        removed = self._remove_orphans(partition_key, keep=set())
        for name in (FILE_VARIANTS, CALLS):
            table = self._table(name)
            if table is not None:
                retry_conflicts(lambda: table.delete(owned))
        return removed, sorted(self.ids_held(held.column("variant_id").to_pylist() if held.num_rows else []))

    def add_rows(self, name: str, rows: pa.Table) -> None:
        """Append rows to a table as they are (to put back rows a failed edit deleted)."""
        if rows.num_rows:
            table = self._table(name)
            retry_conflicts(lambda: table.add(rows.select(table.schema.names)))

    def delete_variants(self, variant_ids: list[str]) -> int:
        """Delete variants with their calls and ownership rows (curation); returns variants deleted."""
        tables = [t for t in map(self._table, (CALLS, FILE_VARIANTS, VARIANTS)) if t is not None]
        deleted = 0
        for start in range(0, len(variant_ids), _LOOKUP_CHUNK):
            where = in_list("variant_id", variant_ids[start : start + _LOOKUP_CHUNK])
            deleted += self.count(VARIANTS, where)
            for table in tables:
                retry_conflicts(lambda: table.delete(where))
        return deleted

    def curated_additions(self) -> set[str]:
        from vcf_pipeline.lib.stores.curation_log import CurationLog

        return CurationLog(self).overlay().additions

    def sweep_unowned(self) -> int:
        """Delete the variants no partition holds, except curated additions: what a write killed
        between its upsert and its ownership commit left. Returns the variants deleted."""
        variants = self._table(VARIANTS)
        if variants is None:
            return 0
        stored = self.read(VARIANTS, ["variant_id"])
        owned = self.read(FILE_VARIANTS, ["variant_id"]) if self._table(FILE_VARIANTS) is not None else pa.table({})
        orphans = sorted(
            set(stored.column("variant_id").to_pylist() if stored.num_rows else [])
            - set(owned.column("variant_id").to_pylist() if owned.num_rows else [])
            - self.curated_additions()
        )
        for start in range(0, len(orphans), _LOOKUP_CHUNK):
            chunk = orphans[start : start + _LOOKUP_CHUNK]
            retry_conflicts(lambda: variants.delete(in_list("variant_id", chunk)))
        return len(orphans)

    def _remove_orphans(self, partition_key: str, keep: set[str]) -> int:
        """Delete the variants the partition holds now, except `keep`, that no other partition holds."""
        ownership, variants = self._table(FILE_VARIANTS), self._table(VARIANTS)
        if ownership is None or variants is None:
            return 0
        held = self.read(FILE_VARIANTS, ["variant_id"], f"partition_key = {sql_string(partition_key)}")
        # Curated additions stay whatever the files do (see lib/curations.py).
        candidates = sorted(set(held.column("variant_id").to_pylist()) - keep - self.curated_additions()) if held.num_rows else []
        removed = 0
        for start in range(0, len(candidates), _LOOKUP_CHUNK):
            chunk = candidates[start : start + _LOOKUP_CHUNK]
            elsewhere = self.read(
                FILE_VARIANTS, ["variant_id"], f"partition_key != {sql_string(partition_key)} AND {in_list('variant_id', chunk)}"
            )
            orphans = sorted(set(chunk) - set(elsewhere.column("variant_id").to_pylist() if elsewhere.num_rows else []))
            if orphans:
                retry_conflicts(lambda: variants.delete(in_list("variant_id", orphans)))
                removed += len(orphans)
        return removed

    def _replace_rows(self, name: str, schema: pa.Schema, partition_key: str, on: list[str], batches) -> int:
        """Make the partition's rows of table `name` exactly those of `batches()`, in one commit.

        `batches` is a factory: a retried commit must read the rows afresh, since a half-read stream
        would make the merge delete the rows it did not see."""
        table = self._ensure_table(name, schema)
        counted = [0]

        def counting():
            counted[0] = 0
            for batch in batches():
                counted[0] += batch.num_rows
                yield batch

        # A reader streams any number of batches into a single commit: readers never see a half-replaced partition.
        owner = f"partition_key = {sql_string(partition_key)}"
        if table.count_rows(owner):
            retry_conflicts(
                lambda: table.merge_insert(on)
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .when_not_matched_by_source_delete(owner)
                .execute(pa.RecordBatchReader.from_batches(schema, counting()))
            )
        else:  # nothing to match (a file's first write): appended as it streams, without the merge's hash table of every row
            retry_conflicts(lambda: table.add(pa.RecordBatchReader.from_batches(schema, counting())))
        if counted[0]:
            self._ensure_btree(table, "partition_key")
            self._ensure_btree(table, "variant_id")  # a variant's files and calls (explorer, retraction)
        return counted[0]

    def maintain(self) -> Upkeep:
        """Keep the vector index current and the tables compact (run under the lancedb pool). Never
        raises: a failed upkeep is reported in `Upkeep.error`, the data written stands, and the next
        write's upkeep tries again."""
        started = time.perf_counter()
        upkeep = Upkeep()
        try:
            variants = self._table(VARIANTS)
            if variants is not None:
                upkeep = maintain_variants(variants, self.policy)
            for name in (FILE_VARIANTS, CALLS):
                table = self._table(name)
                if table is not None:
                    upkeep.actions += compact(table, self.policy) or fold_into_indexes(table, self.policy)
        except Exception as exc:  # maintenance must never fail the write it follows
            upkeep.error = f"{type(exc).__name__}: {exc}"
        upkeep.seconds = time.perf_counter() - started
        return upkeep

    def search(
        self, vector, limit: int = 10, where: str | None = None, columns: list[str] | None = None, exact: bool = False
    ) -> pa.Table:
        """Nearest variants to `vector` (cosine distance), optionally filtered. Uses the vector index
        when there is one (probing `policy.nprobes` partitions, re-ranking on exact vectors), unless
        `exact`."""
        table = self._table(VARIANTS)
        if table is None:
            return pa.table({})
        return nearest(table, vector, limit, where, columns, exact=exact, nprobes=self.policy.nprobes, refine_factor=self.policy.refine_factor)

    def open_table(self, name: str):
        """The LanceDB table `name`; LookupError saying so when the store has none."""
        table = self._table(name)
        if table is None:
            hint = ": nothing has been ingested yet" if name == VARIANTS else f" (tables: {', '.join(self.table_names()) or 'none'})"
            raise LookupError(f"no table {name!r} under {self.uri}{hint}")
        return table

    def indexes(self) -> dict[str, list[dict]]:
        """table -> its indexes (name, type, columns)."""
        return {
            name: [{"name": i.name, "type": i.index_type, "columns": list(i.columns)} for i in self.db.open_table(name).list_indices()]
            for name in self.table_names()
        }

    def scan(self, name: str, columns: list[str], batch_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        """Every row of a table, `batch_rows` at a time."""
        table = self._table(name)
        yield from table.search().select(columns).limit(None).to_batches(batch_rows) if table is not None else ()

    def read(self, name: str, columns: list[str] | None = None, where: str | None = None, limit: int | None = None) -> pa.Table:
        """Rows of a table (for checks and tests; prefer filters on large tables)."""
        table = self._table(name)
        if table is None:
            return pa.table({})
        query = table.search().limit(limit)
        if where:
            query = query.where(where)
        if columns:
            query = query.select(columns)
        return query.to_arrow()
