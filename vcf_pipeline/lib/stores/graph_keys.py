"""The annotation key the graph holds for each variant a load brings: it tells the load which
variants are new, which changed, and which it can leave alone.

The keys are looked up by id, or read in one scan of the Variant table when the file brings a large
share of the graph. At 1M variants, the scan and its dict took 0.9 s; look-ups by id took 4.3 s.
"""

from __future__ import annotations

import kuzu

# A scan pays when the file brings at least an eighth of the graph's variants, as for LanceDB's
# shared rows (stored_rows.SharedRows).
_SCAN_SHARE = 8
# The scanned keys are held as a dict, about 220 MB a million. Past this many stored variants,
# look-ups by id cost less memory than the scan saves in time.
_MAX_SCANNED = 2_000_000


class StoredKeys:
    """The stored annotation keys of the graph `conn` reads, for a load of `variants` rows
    (0 when unknown: look-ups by id)."""

    def __init__(self, conn: kuzu.Connection, variants: int = 0):
        self._conn = conn
        self._scanned: dict[str, str | None] | None = None
        if variants:
            stored = conn.execute("MATCH (v:Variant) RETURN count(*)").get_as_arrow().column(0)[0].as_py()
            if stored <= _MAX_SCANNED and variants * _SCAN_SHARE >= stored:
                keys = conn.execute("MATCH (v:Variant) RETURN v.variant_id, v.annotation_key").get_as_arrow()
                self._scanned = dict(zip(keys.column(0).to_pylist(), keys.column(1).to_pylist()))

    def of(self, ids: list[str]) -> dict[str, str | None]:
        """The stored key of each of `ids` the graph holds (None where a graph from before the
        keys left it unset); ids it lacks are absent."""
        if self._scanned is not None:
            return {i: self._scanned[i] for i in ids if i in self._scanned}
        found = self._conn.execute(
            "UNWIND $ids AS id MATCH (v:Variant {variant_id: id}) RETURN v.variant_id, v.annotation_key", {"ids": ids}
        ).get_as_arrow()
        return dict(zip(found.column(0).to_pylist(), found.column(1).to_pylist()))
