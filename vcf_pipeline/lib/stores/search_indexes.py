"""The indexes that make exact questions fast on `variants`: the full-text index over `keywords`
(identifiers and annotation words, see `lib/search/keywords.py`) and scalar indexes on the columns
a region or a gene list selects by. Created once the table has rows, and kept current: past a limit
of rows they have not seen (queries still see those rows, searched without the index), the rows are
folded in as a delta beside each index, and the deltas merged once they pile up. At 1M rows, with
20,000 outside: a keyword query 35.5 ms; after a 0.6 s delta fold of all seven indexes 4.1 ms, and
4-11 ms with up to ten segments; lancedb's `optimize()`, which merges every index, took 33.5 s and
1.8 GB (bench/README.md, eighth section)."""

from __future__ import annotations

from datetime import timedelta

from vcf_pipeline.lib.search.keywords import FTS_SETTINGS, KEYWORDS
from vcf_pipeline.lib.stores.index_folds import fold_as_deltas

# Column -> index type. BITMAP for few distinct values; BTREE for ranges and many values.
SCALAR_INDEXES = {"gene_symbol": "BTREE", "chrom": "BITMAP", "pos": "BTREE", "rsid": "BTREE"}
VECTOR_INDEX_KINDS = ("IVF", "HNSW")  # `index_type` as lancedb reports it, e.g. IvfRq


def _indexed_columns(indexes) -> dict[str, str]:
    return {index.columns[0]: index.name for index in indexes if len(index.columns) == 1}


def keep_search_indexes(table, max_unindexed_rows: int, max_segments: int, keep_versions: timedelta) -> list[str]:
    """Create the missing search indexes; fold new rows into them (and into the table's other
    scalar indexes) once more than `max_unindexed_rows` are outside them, merging an index's deltas
    once it would have `max_segments`. Returns what was done, for the run's metadata."""
    from lancedb.index import FTS

    actions = []
    rows = table.count_rows()
    if rows == 0 or KEYWORDS not in table.schema.names:
        return actions
    indexes = table.list_indices()
    indexed = _indexed_columns(indexes)
    if KEYWORDS not in indexed:
        table.create_index(KEYWORDS, config=FTS(**FTS_SETTINGS), replace=True)
        actions.append(f"built full-text index on {KEYWORDS}")
    for column, kind in SCALAR_INDEXES.items():
        if column not in indexed:
            table.create_scalar_index(column, index_type=kind, replace=True)
            actions.append(f"built {kind} index on {column}")
    if not actions:
        # every index but the vector ones (`table_upkeep` folds those): these, and the look-ups by id
        names = [i.name for i in indexes if not i.index_type.upper().startswith(VECTOR_INDEX_KINDS)]
        stats = [table.index_stats(name) for name in names]
        unindexed = max(s.num_unindexed_rows for s in stats)
        if unindexed > max_unindexed_rows:
            how = fold_as_deltas(table, names, max_segments, keep_versions)
            actions.append(f"folded {unindexed} new rows into the search indexes" + (", merged" if how == "merged" else f" ({how})"))
    return actions
