"""The variant ids a file has given so far, batch by batch: which of a batch's ids are new.

A file may repeat a variant (an unnormalised duplicate, an ALT that normalises to one seen). Most
files never do, and their records come sorted, so a batch can share an id only with a batch whose
positions it overlaps on a contig. Each batch's ids are kept as an Arrow array beside its span on
each contig, and a new batch is probed (by Arrow, without the GIL) only against the batches it
overlaps. At the first repeat every id goes into a dict, id -> the batch it came in, and the rest of
the file is judged id by id.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Spans = dict[str, tuple[int, int]]  # contig -> (first, last) position


class SeenIds:
    def __init__(self):
        self._batches: list[tuple[int, pa.Array, Spans]] = []
        self._first: dict[str, int] | None = None  # once the file repeats a variant

    def new(self, ids: pa.Array, chrom: pa.Array, pos: pa.Array, batch: int) -> tuple[np.ndarray, list[int]]:
        """Which of batch `batch`'s ids (at normalised `chrom`, `pos`) are new to the file, and the
        indexes of the others."""
        if self._first is None:
            spans = _spans(chrom, pos)
            if pc.count_distinct(ids).as_py() == len(ids) and not any(
                _overlap(spans, other) and pc.any(pc.is_in(seen, value_set=ids)).as_py() for _, seen, other in self._batches
            ):
                self._batches.append((batch, ids, spans))
                return np.ones(len(ids), dtype=bool), []
            self._first = {variant_id: b for b, seen, _ in self._batches for variant_id in seen.to_pylist()}
            self._batches = []
        new = np.zeros(len(ids), dtype=bool)
        repeated = []
        for i, variant_id in enumerate(ids.to_pylist()):
            if variant_id in self._first:
                repeated.append(i)
            else:
                self._first[variant_id] = batch
                new[i] = True
        return new, repeated

    def first_batch(self, variant_id: str) -> int:
        """The batch a repeated id first came in."""
        return self._first[variant_id]


def _spans(chrom: pa.Array, pos: pa.Array) -> Spans:
    found = pa.table({"chrom": chrom, "pos": pos}).group_by("chrom").aggregate([("pos", "min"), ("pos", "max")])
    return dict(zip(found["chrom"].to_pylist(), zip(found["pos_min"].to_pylist(), found["pos_max"].to_pylist())))


def _overlap(a: Spans, b: Spans) -> bool:
    return any(contig in b and first <= b[contig][1] and b[contig][0] <= last for contig, (first, last) in a.items())
