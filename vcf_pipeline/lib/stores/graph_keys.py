"""The annotation key the graph holds for each variant a load brings: it tells the load which
variants are new, which changed, and which it can leave alone.

The keys are looked up by id, or read in one scan of the Variant table when the file brings a large
share of the graph. At 1M variants, the scan and its dict took 0.9 s; look-ups by id took 4.3 s.
The scanned keys are kept as Arrow arrays with the ids indexed (`IdIndex`): the dict, and asking it
row by row, took 2.5 s of a 1M re-ingest's graph load.
"""

from __future__ import annotations

import kuzu
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vcf_pipeline.lib.stores.id_sets import IdIndex

# A scan pays when the file brings at least an eighth of the graph's variants, as for LanceDB's
# shared rows (stored_rows.SharedRows).
_SCAN_SHARE = 8
# The scanned ids and keys are held in memory (a 1M re-ingest's graph step peaked as with the dict,
# 1.25-1.29 GB). Past this many stored variants, look-ups by id cost less memory than the scan saves
# in time.
_MAX_SCANNED = 2_000_000

# The columns the graph holds of a variant beyond its id: when none changed, a reload leaves it alone.
_ANNOTATION_COLUMNS = ["variant_type", "clinical_significance", "gene_symbol", "consequence", "impact"]


class StoredKeys:
    """The stored annotation keys of the graph `conn` reads, for a load of `variants` rows
    (0 when unknown: look-ups by id)."""

    def __init__(self, conn: kuzu.Connection, variants: int = 0):
        self._conn = conn
        self._scanned: tuple[IdIndex, pa.Array] | None = None
        if variants:
            stored = conn.execute("MATCH (v:Variant) RETURN count(*)").get_as_arrow().column(0)[0].as_py()
            if stored <= _MAX_SCANNED and variants * _SCAN_SHARE >= stored:
                keys = conn.execute("MATCH (v:Variant) RETURN v.variant_id, v.annotation_key").get_as_arrow()
                self._scanned = IdIndex(keys.column(0)), keys.column(1).combine_chunks()

    def reading(self, conn: kuzu.Connection) -> "StoredKeys":
        """The same keys, looked up (where not scanned) through `conn`: a load in parts opens the
        database again for each part."""
        self._conn = conn
        return self

    def of(self, ids: pa.Array) -> tuple[np.ndarray, pa.Array]:
        """For each of `ids`: does the graph hold it, and its stored key (null where the graph lacks
        it, and where a graph from before the keys left it unset)."""
        if self._scanned is not None:
            index, keys = self._scanned
        else:
            found = self._conn.execute(
                "UNWIND $ids AS id MATCH (v:Variant {variant_id: id}) RETURN v.variant_id, v.annotation_key", {"ids": ids.to_pylist()}
            ).get_as_arrow()
            index, keys = IdIndex(found.column(0).cast(pa.string())), found.column(1).combine_chunks().cast(pa.string())
        at = index.positions(ids)
        held = at >= 0
        return held, keys.take(pa.array(at, mask=~held))


def annotation_keys(t: pa.Table) -> pa.Array:
    """One string per variant joining what the graph holds of it (type, significance, gene edge,
    condition edges): equal keys mean an unchanged variant."""
    conditions = pc.binary_join(pc.fill_null(t["conditions"], pa.scalar([], pa.list_(pa.string()))), "|")
    parts = [pc.fill_null(t[c].cast(pa.string()), "") for c in _ANNOTATION_COLUMNS]
    return pc.binary_join_element_wise(*parts, pc.fill_null(conditions, ""), "\x1f").combine_chunks()
