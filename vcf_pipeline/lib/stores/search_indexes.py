"""The indexes that make exact questions fast on `variants`: the full-text index over `keywords`
(identifiers and annotation words, see `lib/search/keywords.py`) and scalar indexes on the columns
a region or a gene list selects by. Created once the table has rows, and kept current by `optimize()`
when the rows they have not seen pile up (queries still see those rows, searched without the index)."""

from __future__ import annotations

from vcf_pipeline.lib.search.keywords import FTS_SETTINGS, KEYWORDS

# Column -> index type. BITMAP for few distinct values; BTREE for ranges and many values.
SCALAR_INDEXES = {"gene_symbol": "BTREE", "chrom": "BITMAP", "pos": "BTREE", "rsid": "BTREE"}


def _indexed_columns(table) -> dict[str, str]:
    return {index.columns[0]: index.name for index in table.list_indices() if len(index.columns) == 1}


def keep_search_indexes(table, max_unindexed_fraction: float, keep_versions) -> list[str]:
    """Create the missing search indexes; fold new rows into them when too many are unindexed.
    Returns what was done, for the run's metadata."""
    from lancedb.index import FTS

    actions = []
    rows = table.count_rows()
    if rows == 0 or KEYWORDS not in table.schema.names:
        return actions
    indexed = _indexed_columns(table)
    if KEYWORDS not in indexed:
        table.create_index(KEYWORDS, config=FTS(**FTS_SETTINGS), replace=True)
        actions.append(f"built full-text index on {KEYWORDS}")
    for column, kind in SCALAR_INDEXES.items():
        if column not in indexed:
            table.create_scalar_index(column, index_type=kind, replace=True)
            actions.append(f"built {kind} index on {column}")
    if not actions:
        unindexed = max(table.index_stats(indexed[c]).num_unindexed_rows for c in (KEYWORDS, *SCALAR_INDEXES))
        if unindexed > max_unindexed_fraction * rows:
            table.optimize(cleanup_older_than=keep_versions)
            actions.append(f"folded {unindexed} new rows into the search indexes")
    return actions
