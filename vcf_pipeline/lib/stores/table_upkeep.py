"""Upkeep of the LanceDB tables: the ANN index on `variants.embedding`, fragments and old versions.

Below `min_rows` exact search is fast enough and no vector index is built. Nor is one built when
the table holds few distinct texts (raw caller output without annotations reads "SNV A>G" for every
such variant): k-means cannot form more clusters than there are distinct vectors, and an index over
a few dozen points gains nothing over exact search. Otherwise an IVF_RQ index (RaBitQ: about
sqrt(rows) partitions, at most one per `vectors_per_partition` distinct vectors) is trained once and
kept current: rows it has not seen are folded into it (merged, not a delta beside it) once more than
`max_unindexed_rows` are outside it (searches scan those rows exactly), the search indexes likewise
(as deltas, `search_indexes.py`), small fragments are compacted once they pile up, and the index is
retrained when the table has grown `retrain_growth` times since training (its centroids no longer
fit the data), or when it is of an earlier kind (IVF_PQ, `embedding_ivfpq_*`). Old versions are
pruned after `keep_versions`: backups hold their own copies.
Searches probe `nprobes` partitions and re-rank `refine_factor` x limit candidates on the exact
vectors. IVF_RQ replaced IVF_PQ (48 sub-vectors) on 2026-12-03 (bench/ann_bench.py, default model's
vectors, this policy): at 100k rows built in 3 s against 69 s (PQ's codebook training is a fixed
minute, most of a fresh 100k ingest's time outside embedding), recall@10 1.000 at p50 6.1 ms; at 1M
rows 41 s against 120-135 s, recall@10 0.998 at 7.5 ms.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import timedelta

from vcf_pipeline.lib.stores.index_folds import fold_as_deltas, fold_new_rows
from vcf_pipeline.lib.stores.search_indexes import keep_search_indexes
from vcf_pipeline.lib.system.memory import release_free_memory

VECTOR_COLUMN = "embedding"
INDEX_PREFIX = "embedding_ivfrq_"
EARLIER_PREFIXES = ("embedding_ivfpq_",)  # indexes upkeep built before: replaced at the next upkeep


@dataclass(frozen=True)
class IndexPolicy:
    min_rows: int = 20_000  # exact search of 100k rows measured 53 ms p50 on 2 cores, an IVF index 6-9 ms
    retrain_growth: float = 4.0
    max_unindexed_fraction: float = 0.05  # `file_variants` and `calls` (`fold_into_indexes`)
    # Rows outside an index are searched without it: at 1M rows 20,000 of them made a vector search's
    # p50 40 ms, 12 ms once folded in 2.2 s, and a keyword search's 35.5 ms, 4.1 ms (bench/README.md).
    max_unindexed_rows: int = 2_000
    max_index_segments: int = 10  # an index and its deltas: keyword queries measured 4-11 ms at 10
    max_small_fragments: int = 32
    keep_versions: timedelta = timedelta(hours=1)
    min_distinct_vectors: int = 4096  # k-means wants many more distinct points than partitions
    vectors_per_partition: int = 32
    nprobes: int = 32
    refine_factor: int = 20
    # k-means trains on sample_rate x partitions vectors; 64 a partition (lancedb's default is 256) built
    # the 100k IVF_RQ index in 3.0 s against 7.2 s at the same recall (bench/README.md)
    sample_rate: int = 64


@dataclass
class Upkeep:
    """What `maintain` did, for run metadata."""

    rows: int = 0
    actions: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""  # upkeep that failed: the write it followed stands, and the next write tries again


def partitions_for(rows: int, distinct: int | None = None, policy: IndexPolicy = IndexPolicy()) -> int:
    """IVF partitions for `rows` vectors of which `distinct` differ: about sqrt(rows), never more
    than the distinct vectors can fill."""
    by_rows = max(1, min(4096, int(math.sqrt(rows))))
    return by_rows if distinct is None else max(1, min(by_rows, distinct // policy.vectors_per_partition))


def distinct_vectors(table) -> int:
    """How many different embeddings the table holds (one per distinct text)."""
    import pyarrow.compute as pc

    hashes = table.search().select(["text_hash"]).limit(None).to_arrow()["text_hash"]
    return pc.count_distinct(hashes).as_py()


def sub_vectors_for(dimension: int) -> int:
    """8 dimensions per PQ sub-vector (the count must divide the dimension)."""
    return next(n for n in (dimension // 8, dimension // 4, dimension // 2, 1) if n and dimension % n == 0)


def _vector_indexes(table) -> list:
    """The vector indexes upkeep built (of the current kind or an earlier one); not a person's own."""
    return [i for i in table.list_indices() if i.columns == [VECTOR_COLUMN] and i.name.startswith((INDEX_PREFIX, *EARLIER_PREFIXES))]


def trained_rows(index_name: str) -> int:
    """The row count an index was trained at, kept in its name (`embedding_ivfrq_<rows>`)."""
    return int(index_name.rsplit("_", 1)[1])


def build_index(table, rows: int, partitions: int, sample_rate: int = IndexPolicy.sample_rate) -> str:
    """Train a new index, then drop the ones it replaces: searches use an index throughout."""
    from lancedb.index import IvfRq

    old = _vector_indexes(table)
    name = f"{INDEX_PREFIX}{rows}"
    config = IvfRq(distance_type="cosine", num_partitions=partitions, sample_rate=sample_rate)
    table.create_index(VECTOR_COLUMN, config=config, replace=True, name=name)
    for index in old:
        if index.name != name:
            table.drop_index(index.name)
    return name


def maintain_variants(table, policy: IndexPolicy = IndexPolicy()) -> Upkeep:
    """Compact the table, then create, update or retrain the vector index, as the policy says.
    Compaction comes first: a large file lands as many fragments, and the index is then built over
    few (searching 50 uncompacted fragments of 1M rows measured 4x slower). What each action freed
    is handed back before the next: LanceDB leaves its buffers in the allocator, and after a 1M
    row table's compaction (+640 MB) the index builds piled on top (1,125 MB against 870)."""
    started = time.perf_counter()
    upkeep = Upkeep(rows=table.count_rows())
    upkeep.actions += compact(table, policy)
    release_free_memory()
    indexes = _vector_indexes(table)
    if (not indexes and upkeep.rows >= policy.min_rows) or (
        indexes and (upkeep.rows >= policy.retrain_growth * trained_rows(indexes[0].name) or not indexes[0].name.startswith(INDEX_PREFIX))
    ):
        upkeep.actions.append(_train(table, upkeep.rows, retrain=bool(indexes), policy=policy))
        release_free_memory()
    elif indexes:
        unindexed = table.index_stats(indexes[0].name).num_unindexed_rows
        if unindexed > policy.max_unindexed_rows:
            fold_new_rows(table, [indexes[0].name], 1, policy.keep_versions)  # merged: a delta beside it doubles the re-ranking
            upkeep.actions.append(f"folded {unindexed} new rows into {indexes[0].name}")
    upkeep.actions += keep_search_indexes(table, policy.max_unindexed_rows, policy.max_index_segments, policy.keep_versions)
    upkeep.seconds = time.perf_counter() - started
    return upkeep


def _train(table, rows: int, retrain: bool, policy: IndexPolicy) -> str:
    distinct = distinct_vectors(table)
    release_free_memory()  # the column just counted: at 1M rows, 160 MB left under the index build's peak
    if distinct < policy.min_distinct_vectors:
        for index in _vector_indexes(table):  # an index trained on other data would only mislead
            table.drop_index(index.name)
        return f"no vector index: {distinct} distinct texts among {rows} rows (exact search)"
    partitions = partitions_for(rows, distinct, policy)
    build_index(table, rows, partitions, policy.sample_rate)
    return f"{'retrained' if retrain else 'built'} IVF_RQ index ({partitions} partitions, {distinct} distinct vectors)"


def compact(table, policy: IndexPolicy = IndexPolicy()) -> list[str]:
    """Merge small fragments (one or more per commit) once they pile up, copying their encoded pages
    where the fragments allow it (pylance's `try_binary_copy`, else re-encoded); prune old versions.
    A fresh 1M-row table's 50 fragments: 6.5 s and +200 MB; lancedb's `optimize()`, which decodes
    and encodes every row and merges every index, 16.6 s and +640-690 MB. Indexes are remapped to the
    new fragments; rows they had not seen stay for the folds below."""
    small = table.stats()["fragment_stats"]["num_small_fragments"]
    if small <= policy.max_small_fragments:
        return []
    dataset = table.to_lance()
    dataset.optimize.compact_files(compaction_mode="try_binary_copy")
    dataset.cleanup_old_versions(older_than=policy.keep_versions)
    table.checkout_latest()
    return [f"{table.name}: compacted {small} small fragments"]


def fold_into_indexes(table, policy: IndexPolicy = IndexPolicy()) -> list[str]:
    """Fold new rows into the table's scalar indexes (`file_variants` and `calls` by variant and by
    partition) once more than `max_unindexed_fraction` of its rows are outside them: a lookup by id
    scans the rows outside (20,000 ids in a 400k-row table with 300k outside: 1.9 s, 0.3 s after).
    As deltas (`fold_as_deltas`): 1M new rows in a 3M-row `file_variants`, 0.4 s; `optimize()`, which
    merged every index whole, 7.0 s."""
    rows = table.count_rows()
    indexes = table.list_indices()
    if not rows or not indexes:
        return []
    unindexed = max(table.index_stats(index.name).num_unindexed_rows for index in indexes)
    if unindexed <= policy.max_unindexed_fraction * rows:
        return []
    how = fold_as_deltas(table, [index.name for index in indexes], policy.max_index_segments, policy.keep_versions)
    return [f"{table.name}: folded {unindexed} new rows into its indexes ({how})"]


def pa_is_string(data_type) -> bool:
    import pyarrow as pa

    return pa.types.is_string(data_type) or pa.types.is_large_string(data_type)


class IndexRefused(ValueError):
    """An index the table cannot take (unknown column or type, too few rows to train)."""


VECTOR_INDEX_TYPES = ("IVF_RQ", "IVF_PQ", "IVF_HNSW_SQ")
SCALAR_INDEX_TYPES = ("BTREE", "BITMAP")


def create_index(table, column: str, kind: str, partitions: int | None = None, sub_vectors: int | None = None) -> dict:
    """An index a person asked for (`vcf-pipeline create-index`), sized by the same rules as the
    automatic one: about sqrt(rows) partitions, 8-dimension PQ sub-vectors. Returns what was built."""
    kind = kind.upper()
    if column not in table.schema.names:
        raise IndexRefused(f"unknown column {column!r} in {table.name}")
    rows = table.count_rows()
    details: dict = {"table": table.name, "column": column, "index_type": kind, "rows": rows}
    if kind in VECTOR_INDEX_TYPES:
        import pyarrow as pa

        field_type = table.schema.field(column).type
        if not pa.types.is_fixed_size_list(field_type):
            raise IndexRefused(f"{column} is not a vector column")
        if rows < 256:
            raise IndexRefused(f"{table.name} has {rows} rows; a vector index needs at least 256 to train (exact search is fast below that)")
        details["num_partitions"] = partitions or partitions_for(rows)
        if kind == "IVF_PQ":
            details["num_sub_vectors"] = sub_vectors or sub_vectors_for(field_type.list_size)
        options = {k: details[k] for k in ("num_partitions", "num_sub_vectors") if k in details}
        table.create_index(metric="cosine", vector_column_name=column, index_type=kind, replace=True, **options)
    elif kind in SCALAR_INDEX_TYPES:
        table.create_scalar_index(column, index_type=kind, replace=True)
    elif kind == "FTS":
        from lancedb.index import FTS

        from vcf_pipeline.lib.search.keywords import FTS_SETTINGS

        if not pa_is_string(table.schema.field(column).type):
            raise IndexRefused(f"{column} is not a text column: a full-text index needs one")
        table.create_index(column, config=FTS(**FTS_SETTINGS), replace=True)
    else:
        raise IndexRefused(f"index type {kind!r}: one of {', '.join(SCALAR_INDEX_TYPES + VECTOR_INDEX_TYPES + ('FTS',))}")
    return details
